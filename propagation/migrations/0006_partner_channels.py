"""Erasure reaches the other channels of a call not isolated at source."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("propagation", "0005_model_status_reports")]

    operations: list[migrations.operations.base.Operation] = []
