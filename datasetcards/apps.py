from django.apps import AppConfig


class DatasetCardsConfig(AppConfig):
    name = "datasetcards"
    verbose_name = "Datasets and cards"
    default_auto_field = "django.db.models.BigAutoField"
