"""The check behind the deferred coverage triggers: a recording has exactly one track on
each of its channels 0..channel_count-1 when its transaction commits."""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION registry_assert_tracks_cover_channels(rec_id bigint)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    expected integer;
    total integer;
    covered integer;
BEGIN
    SELECT channel_count INTO expected FROM registry_recording WHERE id = rec_id;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    SELECT count(*), count(*) FILTER (WHERE channel < expected)
      INTO total, covered
      FROM registry_track WHERE recording_id = rec_id;
    -- (recording, channel) is unique, so `covered = expected = total` means
    -- channels 0..expected-1 each have exactly one track and there is no other.
    IF total <> expected OR covered <> expected THEN
        RAISE EXCEPTION USING
            ERRCODE = 'check_violation',
            CONSTRAINT = 'recording_tracks_cover_channels',
            MESSAGE = format(
                'recording %s has %s channels but %s tracks (%s within range)',
                rec_id, expected, total, covered);
    END IF;
END;
$$;
"""

DROP = "DROP FUNCTION IF EXISTS registry_assert_tracks_cover_channels(bigint);"


class Migration(migrations.Migration):
    dependencies = [("registry", "0001_initial")]

    operations = [migrations.RunSQL(CREATE, DROP)]
