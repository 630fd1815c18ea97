"""Compliance officers may see a speaker's decrypted contact details (each view logged),
export consent records and compliance reports, and read the access log."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

CODENAMES = ["view_speaker_contact", "export_records", "view_accesslogentry"]


def grant(apps, schema_editor):
    app_config = apps.get_app_config("registry")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    permissions = Permission.objects.filter(
        content_type__app_label="registry", codename__in=CODENAMES
    )
    for group in Group.objects.filter(name="Compliance officer"):
        group.permissions.add(*permissions)


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    for group in Group.objects.filter(name="Compliance officer"):
        group.permissions.remove(*group.permissions.filter(codename__in=CODENAMES))


class Migration(migrations.Migration):
    dependencies = [("registry", "0009_access_log")]

    operations = [migrations.RunPython(grant, revoke)]
