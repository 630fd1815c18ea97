"""Stored Idempotency-Key answers are encrypted at rest (they hold invitation links)."""

from django.db import migrations

import registry.fields
from registry import pii


def encrypt_stored_answers(apps, schema_editor):
    """Answers written in clear before this migration (kept 24 h at most)."""
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT id, response_json FROM consent_idempotencyrecord")
        for pk, text in cursor.fetchall():
            cursor.execute(
                "UPDATE consent_idempotencyrecord SET response_json = %s WHERE id = %s",
                [pii.encrypt(text), pk],
            )


class Migration(migrations.Migration):
    dependencies = [("consent", "0005_idempotency_records")]

    operations = [
        migrations.RunPython(encrypt_stored_answers, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="idempotencyrecord",
            name="response_json",
            field=registry.fields.EncryptedTextField(),
        ),
    ]
