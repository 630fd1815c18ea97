from django.apps import AppConfig
from django.db.models.signals import m2m_changed


class DatasetCardsConfig(AppConfig):
    name = "datasetcards"
    verbose_name = "Datasets and cards"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from datasetcards.models import License
        from datasetcards.services import on_license_releases_changed

        m2m_changed.connect(
            on_license_releases_changed,
            sender=License.releases.through,
            weak=False,
            dispatch_uid="datasetcards-feed-on-license",
        )
