"""Age and order gates: an under-age answer closes an invitation (the participant's
reason), requests have their own evidence method."""

import django.contrib.postgres.fields
import pgtrigger.compiler
import pgtrigger.migrations
from django.db import migrations, models

EVIDENCE_METHODS = [
    ("web_form", "Web form (one affirmative click)"),
    ("web_form_signed", "Web form with typed-name signature (written)"),
    ("spoken_phrase", "Recorded spoken consent phrase"),
    ("signed_paper", "Scanned signed paper form (written)"),
    ("system", "System (expiry by schedule)"),
    ("request", "Request by the collection platform"),
]
METHOD_VALUES = [value for value, _ in EVIDENCE_METHODS]


class Migration(migrations.Migration):
    dependencies = [
        ("consent", "0008_notice_publish_retire_permissions"),
        ("registry", "0011_verbose_names"),
    ]

    operations = [
        migrations.RemoveConstraint(model_name="consentevent", name="event_evidence_method_known"),
        migrations.RemoveConstraint(
            model_name="erasurerequest", name="erasure_evidence_method_known"
        ),
        migrations.AddField(
            model_name="sessionparticipant",
            name="closed_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="sessionparticipant",
            name="closed_reason",
            field=models.CharField(
                blank=True,
                choices=[
                    ("under_age", "Below the minimum age"),
                    ("erased", "The participant's data was erased"),
                ],
                default="",
                max_length=12,
            ),
        ),
        migrations.AlterField(
            model_name="consentevent",
            name="evidence_method",
            field=models.CharField(choices=EVIDENCE_METHODS, max_length=16),
        ),
        migrations.AlterField(
            model_name="erasurerequest",
            name="evidence_method",
            field=models.CharField(choices=EVIDENCE_METHODS, max_length=16),
        ),
        migrations.AlterField(
            model_name="jurisdictionrule",
            name="allowed_evidence_methods",
            field=django.contrib.postgres.fields.ArrayField(
                base_field=models.CharField(choices=EVIDENCE_METHODS, max_length=32),
                blank=True,
                default=list,
                help_text="Empty: any method.",
                size=None,
            ),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name="sessionparticipant",
            trigger=pgtrigger.compiler.Trigger(
                name="participant_closed_for_good",
                sql=pgtrigger.compiler.UpsertTriggerSql(
                    condition="WHEN (OLD.closed_reason <> '' AND (OLD.closed_reason IS DISTINCT "
                    "FROM NEW.closed_reason OR OLD.closed_at IS DISTINCT FROM NEW.closed_at))",
                    func="RAISE EXCEPTION 'pgtrigger: Cannot update rows from % table', "
                    "TG_TABLE_NAME;",
                    hash="ee0487a3043a567954b76b2db64c9445d58aae54",
                    operation="UPDATE",
                    pgid="pgtrigger_participant_closed_for_good_68635",
                    table="consent_sessionparticipant",
                    when="BEFORE",
                ),
            ),
        ),
        migrations.AddConstraint(
            model_name="consentevent",
            constraint=models.CheckConstraint(
                condition=models.Q(("evidence_method__in", METHOD_VALUES)),
                name="event_evidence_method_known",
            ),
        ),
        migrations.AddConstraint(
            model_name="erasurerequest",
            constraint=models.CheckConstraint(
                condition=models.Q(("evidence_method__in", METHOD_VALUES)),
                name="erasure_evidence_method_known",
            ),
        ),
        migrations.AddConstraint(
            model_name="consentevent",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("action", "request"), ("evidence_method__in", ["request", "system"])),
                    models.Q(
                        models.Q(("action", "request"), _negated=True),
                        models.Q(("evidence_method", "request"), _negated=True),
                    ),
                    _connector="OR",
                ),
                name="event_request_evidence",
            ),
        ),
        migrations.AddConstraint(
            model_name="sessionparticipant",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("closed_at__isnull", True), ("closed_reason", "")),
                    models.Q(
                        ("closed_reason__in", ["under_age", "erased"]), ("closed_at__isnull", False)
                    ),
                    _connector="OR",
                ),
                name="participant_closed_has_reason_and_time",
            ),
        ),
    ]
