"""Compliance officers may run the audit-chain verification and read its runs."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

CODENAMES = ["verify_chain", "view_chainverification"]


def grant(apps, schema_editor):
    app_config = apps.get_app_config("consent")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    permissions = Permission.objects.filter(
        content_type__app_label="consent", codename__in=CODENAMES
    )
    for group in Group.objects.filter(name="Compliance officer"):
        group.permissions.add(*permissions)


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    for group in Group.objects.filter(name="Compliance officer"):
        group.permissions.remove(*group.permissions.filter(codename__in=CODENAMES))


class Migration(migrations.Migration):
    dependencies = [
        ("registry", "0007_staff_roles"),
        ("consent", "0007_chain_verifications"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
