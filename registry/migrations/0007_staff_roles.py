"""Staff roles as Django groups (issue: compliance admin). Superusers are for set-up only;
everyone else works through one of these groups.

- Compliance officer: reads everything, retries propagation. Changes nothing else:
  consent events, consents and notices have no change or delete permission for anyone.
- Data steward: datasets, releases, licenses, licensees, derived models, rate plans
  (add and change; nothing is deleted), and reads the catalogue around them.
- Support: assisted enrolment (issues sign-in links) and reads a speaker's consents to
  answer questions; records no consent on a speaker's behalf.

Permissions are created here first (Django makes them after migrations), so the groups
are complete on a fresh database too. Re-running is harmless: each group's permissions
are set to exactly these.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

APPS = ("registry", "consent", "datasetcards", "compensation", "speakers", "propagation")

STEWARD_EDITS = {
    "datasetcards": ("dataset", "release", "license"),
    "registry": ("licensee", "derivedmodel"),
    "compensation": ("rateplan",),
}
STEWARD_READS = {
    "datasetcards": ("dataset", "release", "releaseitem", "releaseerratum", "license"),
    "registry": ("licensee", "derivedmodel", "campaign", "recording", "track"),
    "compensation": ("rateplan",),
}
SUPPORT = [
    ("speakers", "issue_sign_in_link"),
    ("speakers", "view_signinlink"),
    ("speakers", "view_speakeraccount"),
    ("registry", "view_speaker"),
    ("consent", "view_consent"),
    ("consent", "view_consentevent"),
    ("consent", "view_consentnotice"),
]


def roles(apps):
    Permission = apps.get_model("auth", "Permission")
    everything = Permission.objects.filter(content_type__app_label__in=APPS)
    officer = list(everything.filter(codename__startswith="view_")) + list(
        everything.filter(content_type__app_label="propagation", codename="retry_propagationtarget")
    )
    steward = []
    for app, models in STEWARD_READS.items():
        steward += everything.filter(
            content_type__app_label=app, codename__in=[f"view_{m}" for m in models]
        )
    for app, models in STEWARD_EDITS.items():
        codenames = [f"{verb}_{m}" for m in models for verb in ("add", "change")]
        steward += everything.filter(content_type__app_label=app, codename__in=codenames)
    support = [everything.get(content_type__app_label=a, codename=c) for a, c in SUPPORT]
    return {"Compliance officer": officer, "Data steward": steward, "Support": support}


def create_roles(apps, schema_editor):
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    for name, permissions in roles(apps).items():
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.set(permissions)


def drop_roles(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(
        name__in=["Compliance officer", "Data steward", "Support"]
    ).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("registry", "0006_api_tokens"),
        ("consent", "0006_idempotency_answer_encrypted"),
        ("datasetcards", "0005_feed_entries"),
        ("compensation", "0001_initial"),
        ("speakers", "0001_initial"),
        ("propagation", "0005_model_status_reports"),
    ]

    operations = [migrations.RunPython(create_roles, drop_roles)]
