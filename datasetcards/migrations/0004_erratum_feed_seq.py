import pgtrigger
from django.db import migrations, models


def number_existing(apps, schema_editor):
    """Errata written before the feed existed get positions in the order they were made."""
    Erratum = apps.get_model("datasetcards", "ReleaseErratum")
    with pgtrigger.ignore("datasetcards.ReleaseErratum:release_erratum_append_only"):
        for seq, pk in enumerate(Erratum.objects.order_by("id").values_list("pk", flat=True), 1):
            Erratum.objects.filter(pk=pk).update(seq=seq)


class Migration(migrations.Migration):
    dependencies = [("datasetcards", "0003_erratum_public_id_unique")]

    operations = [
        migrations.AddField(
            model_name="releaseerratum",
            name="seq",
            field=models.BigIntegerField(editable=False, null=True, unique=True),
        ),
        migrations.RunPython(number_existing, migrations.RunPython.noop),
    ]
