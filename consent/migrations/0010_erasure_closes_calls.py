"""Erasure that erases: what an erased participant leaves behind on a shared call."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("consent", "0009_age_and_order_gates")]

    operations: list[migrations.operations.base.Operation] = []
