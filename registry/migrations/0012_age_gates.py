"""Age gates: plausible dates of birth."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("registry", "0011_verbose_names")]

    operations: list[migrations.operations.base.Operation] = []
