"""Compliance officers may see a speaker's decrypted contact details (each view logged),
export consent records and compliance reports, read the access log, and see and clear
staff sign-in lockouts (django-axes)."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

CODENAMES = ["view_speaker_contact", "export_records", "view_accesslogentry"]
AXES_CODENAMES = ["view_accessattempt", "delete_accessattempt", "view_accessfailurelog"]


def grant(apps, schema_editor):
    for label in ("registry", "axes"):
        app_config = apps.get_app_config(label)
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    permissions = list(
        Permission.objects.filter(content_type__app_label="registry", codename__in=CODENAMES)
    ) + list(Permission.objects.filter(content_type__app_label="axes", codename__in=AXES_CODENAMES))
    for group in Group.objects.filter(name="Compliance officer"):
        group.permissions.add(*permissions)


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    for group in Group.objects.filter(name="Compliance officer"):
        group.permissions.remove(
            *group.permissions.filter(codename__in=CODENAMES + AXES_CODENAMES)
        )


class Migration(migrations.Migration):
    dependencies = [
        ("registry", "0009_access_log"),
        ("axes", "0010_accessattemptexpiration"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
