"""Per-licensee withdrawal feed positions (replacing the erratum's global seq)."""

import django.db.models.deletion
import pgtrigger.compiler
import pgtrigger.migrations
from django.db import migrations, models


# Positions continue after the erratum's old global seq (cursors licensees hold may be
# that high): nobody's cursor can be ahead of the new entries. Writers of errata take
# the same advisory lock, so none commits between this snapshot and the column's drop.
BACKFILL = """
SELECT pg_advisory_xact_lock(1178944836);
INSERT INTO datasetcards_feedentry (seq, licensee_id, erratum_id, created_at)
SELECT (SELECT coalesce(max(seq), 0) FROM datasetcards_releaseerratum)
       + row_number() OVER (ORDER BY pending.position, pending.erratum_id, pending.licensee_id),
       pending.licensee_id, pending.erratum_id, now()
  FROM (SELECT DISTINCT l.licensee_id, e.id AS erratum_id, coalesce(e.seq, 0) AS position
          FROM datasetcards_releaseerratum e
          JOIN datasetcards_license_releases lr ON lr.release_id = e.release_id
          JOIN datasetcards_license l ON l.id = lr.license_id) AS pending
"""


class Migration(migrations.Migration):

    dependencies = [
        ('datasetcards', '0004_erratum_feed_seq'),
        ('registry', '0006_api_tokens'),
    ]

    operations = [
        migrations.CreateModel(
            name='FeedEntry',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('seq', models.BigIntegerField(unique=True)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('erratum', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='feed_entries', to='datasetcards.releaseerratum')),
                ('licensee', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='registry.licensee')),
            ],
            options={
                'verbose_name_plural': 'feed entries',
                'indexes': [models.Index(fields=['licensee', 'seq'], name='feed_entry_reader_idx')],
                'constraints': [models.UniqueConstraint(fields=('licensee', 'erratum'), name='feed_entry_once')],
            },
        ),
        # Errata written before: in every licensee's feed, in the order they were made.
        migrations.RunSQL(BACKFILL, migrations.RunSQL.noop),
        migrations.RemoveField(
            model_name='releaseerratum',
            name='seq',
        ),
        pgtrigger.migrations.AddTrigger(
            model_name='feedentry',
            trigger=pgtrigger.compiler.Trigger(name='feed_entry_append_only', sql=pgtrigger.compiler.UpsertTriggerSql(func="RAISE EXCEPTION 'pgtrigger: Cannot update or delete rows from % table', TG_TABLE_NAME;", hash='2af79b06031e4391eaa2fdd62f6eb07d71268edd', operation='UPDATE OR DELETE', pgid='pgtrigger_feed_entry_append_only_581a7', table='datasetcards_feedentry', when='BEFORE')),
        ),
    ]
