from django.apps import AppConfig


class CompensationConfig(AppConfig):
    name = "compensation"
    verbose_name = "Compensation"
    default_auto_field = "django.db.models.BigAutoField"
