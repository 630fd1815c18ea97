"""Compliance officers may publish a new notice version and retire one (through the
services, from the admin). Add, change and delete on notices stay granted to no one.

Permissions are created here first (Django makes them after migrations), so the grant
holds on a fresh database too."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

CODENAMES = ["publish_notice", "retire_notice"]


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
        ("consent", "0007_chain_verifications"),
        ("registry", "0007_staff_roles"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="consentnotice",
            options={
                "ordering": ["purpose", "jurisdiction_id", "language", "version"],
                "permissions": [
                    ("publish_notice", "Publish a new notice version"),
                    ("retire_notice", "Retire a notice version"),
                ],
            },
        ),
        migrations.RunPython(grant, revoke),
    ]
