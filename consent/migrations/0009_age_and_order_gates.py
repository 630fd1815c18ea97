"""Age and order gates: an under-age answer closes an invitation, requests have their own evidence method."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("consent", "0008_notice_publish_retire_permissions"), ("registry", "0011_verbose_names")]

    operations: list[migrations.operations.base.Operation] = []
