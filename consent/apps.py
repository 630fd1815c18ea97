from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save


class ConsentConfig(AppConfig):
    name = "consent"
    verbose_name = "Consent"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from consent.models import Jurisdiction
        from consent.rules import forget_jurisdictions

        for signal in (post_save, post_delete):
            signal.connect(forget_jurisdictions, sender=Jurisdiction, dispatch_uid="jurisdictions")
