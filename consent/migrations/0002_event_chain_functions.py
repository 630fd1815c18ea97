"""The hash chain of consent events, computed by PostgreSQL.

``consent_event_digest_input`` is the one canonical serialisation of an event; the
insert trigger and ``verify_audit_chain`` both use it, so they cannot disagree.
Encrypted columns live elsewhere (ConsentSignature), so key rotation never breaks it.
"""

from django.db import migrations

TS = "'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'"

CREATE = f"""
CREATE OR REPLACE FUNCTION consent_event_digest_input(e consent_consentevent)
RETURNS text LANGUAGE sql STABLE AS $$
    -- A JSON array: every field keeps its position and its quoting, so no edit can
    -- move characters from one field into another without changing the text.
    SELECT jsonb_build_array(
        e.seq, e.public_id::text, e.speaker_id, e.purpose, e.action, e.state,
        e.session_id, e.notice_id, e.notice_language, e.notice_sha256, e.jurisdiction,
        e.rules_applied, e.evidence_method, e.evidence_sha256, e.actor_kind, e.actor_ref,
        e.ip_hash, e.user_agent_hash,
        to_char(e.occurred_at AT TIME ZONE 'UTC', {TS}),
        to_char(e.recorded_at AT TIME ZONE 'UTC', {TS}),
        to_char(e.expires_at AT TIME ZONE 'UTC', {TS}),
        e.prev_hash)::text
$$;

CREATE OR REPLACE FUNCTION consent_event_hash(e consent_consentevent)
RETURNS text LANGUAGE sql STABLE AS $$
    SELECT encode(sha256(convert_to(consent_event_digest_input(e), 'UTF8')), 'hex')
$$;

CREATE OR REPLACE FUNCTION consent_chain_link(e consent_consentevent)
RETURNS consent_consentevent LANGUAGE plpgsql AS $$
DECLARE
    head_seq bigint;
    head_hash text;
BEGIN
    INSERT INTO consent_chainhead (id, seq, hash) VALUES (1, 0, repeat('0', 64))
        ON CONFLICT (id) DO NOTHING;
    -- One writer at a time extends the chain; the lock is held until commit.
    SELECT seq, hash INTO head_seq, head_hash FROM consent_chainhead WHERE id = 1 FOR UPDATE;
    e.seq := head_seq + 1;
    e.prev_hash := head_hash;
    e.hash := consent_event_hash(e);
    UPDATE consent_chainhead SET seq = e.seq, hash = e.hash WHERE id = 1;
    RETURN e;
END;
$$;
"""

DROP = """
DROP FUNCTION IF EXISTS consent_chain_link(consent_consentevent);
DROP FUNCTION IF EXISTS consent_event_hash(consent_consentevent);
DROP FUNCTION IF EXISTS consent_event_digest_input(consent_consentevent);
"""


class Migration(migrations.Migration):
    dependencies = [("consent", "0001_initial")]

    operations = [migrations.RunSQL(CREATE, DROP)]
