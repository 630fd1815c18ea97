from django.apps import AppConfig


class SpeakersConfig(AppConfig):
    name = "speakers"
    verbose_name = "Speaker portal"
    default_auto_field = "django.db.models.BigAutoField"
