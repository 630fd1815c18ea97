from django.apps import AppConfig


class PropagationConfig(AppConfig):
    name = "propagation"
    verbose_name = "Withdrawal propagation"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from consent.models import ConsentOutbox
        from consent.signals import outbox_written
        from datasetcards.models import Release
        from datasetcards.signals import release_built
        from propagation.services import on_outbox_written, on_release_built

        # Strong reference, fixed uid: planning is part of every withdrawal.
        outbox_written.connect(
            on_outbox_written, sender=ConsentOutbox, weak=False, dispatch_uid="propagation-plan"
        )
        release_built.connect(
            on_release_built, sender=Release, weak=False, dispatch_uid="propagation-late-release"
        )
