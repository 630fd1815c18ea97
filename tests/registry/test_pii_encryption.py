from __future__ import annotations

import base64
import datetime
import secrets

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import FieldError
from django.core.management import call_command
from django.db import connection

from registry import pii
from registry.key_rotation import encrypted_tables, rotate_pii_keys
from registry.models import Speaker
from registry.selectors import get_speaker_by_email
from tests.factories import SpeakerFactory, erase_speaker_row

pytestmark = pytest.mark.django_db


def _raw_row(speaker: Speaker) -> dict[str, str | None]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT name, email, phone, date_of_birth, email_blind_index "
            "FROM registry_speaker WHERE id = %s",
            [speaker.pk],
        )
        columns = [c.name for c in cursor.description]
        return dict(zip(columns, cursor.fetchone(), strict=True))


def test_personal_data_columns_hold_only_ciphertext() -> None:
    speaker = SpeakerFactory(
        name="山田 太郎",
        email="Taro.Yamada@example.jp",
        phone="+81 3 5550 1234",
        date_of_birth=datetime.date(1985, 4, 2),
        jurisdiction="JP",
        preferred_language="ja",
    )
    row = _raw_row(speaker)
    for column in ("name", "email", "phone", "date_of_birth"):
        assert row[column].startswith("gAAAAA"), column  # Fernet token, version byte 0x80
    assert "山田" not in row["name"]
    assert "yamada" not in row["email"].lower()
    assert "1985" not in row["date_of_birth"]
    assert "5550" not in row["phone"]


def test_personal_data_reads_back_decrypted() -> None:
    created = SpeakerFactory(name="Jürgen Weiß", date_of_birth=datetime.date(1970, 1, 31))
    speaker = Speaker.objects.get(pk=created.pk)
    assert speaker.name == "Jürgen Weiß"
    assert speaker.date_of_birth == datetime.date(1970, 1, 31)


def test_the_same_name_encrypts_differently_each_time() -> None:
    a = SpeakerFactory(name="Anna Müller")
    b = SpeakerFactory(name="Anna Müller")
    assert _raw_row(a)["name"] != _raw_row(b)["name"]


def test_lookup_by_email_goes_through_the_normalised_blind_index() -> None:
    speaker = SpeakerFactory(email="Maria.Hernandez@Example.org")
    assert get_speaker_by_email(email="  maria.hernandez@example.ORG ") == speaker
    assert get_speaker_by_email(email="maria.hernandez@example.net") is None
    assert _raw_row(speaker)["email_blind_index"] == pii.email_blind_index(
        "maria.hernandez@example.org"
    )


def test_blind_index_depends_on_the_key(settings) -> None:
    before = pii.email_blind_index("a@example.org")
    settings.BLIND_INDEX_KEY = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
    assert pii.email_blind_index("a@example.org") != before


def test_filtering_on_an_encrypted_column_is_refused() -> None:
    with pytest.raises(FieldError):
        list(Speaker.objects.filter(email="x@example.org"))


def test_a_new_primary_key_still_decrypts_data_written_under_the_old_one(settings) -> None:
    speaker = SpeakerFactory(name="Élodie Lefèvre")
    settings.PII_ENCRYPTION_KEYS = [Fernet.generate_key().decode(), *settings.PII_ENCRYPTION_KEYS]
    assert Speaker.objects.get(pk=speaker.pk).name == "Élodie Lefèvre"


def test_data_is_unreadable_once_its_key_is_removed_without_rotation(settings) -> None:
    speaker = SpeakerFactory()
    settings.PII_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    with pytest.raises(pii.PiiDecryptionError):
        Speaker.objects.get(pk=speaker.pk)


def test_rotate_pii_keys_reencrypts_everything_under_the_new_primary_key(settings) -> None:
    speakers = [SpeakerFactory(name=f"Speaker {i}") for i in range(7)]
    old_key = settings.PII_ENCRYPTION_KEYS[0]
    new_key = Fernet.generate_key().decode()
    settings.PII_ENCRYPTION_KEYS = [new_key, old_key]

    result = rotate_pii_keys(batch_size=3)

    assert result.rows_examined == 7
    assert result.rows_rewritten == 7
    assert result.values_reencrypted == 7 * 4  # name, email, phone, date of birth
    settings.PII_ENCRYPTION_KEYS = [new_key]  # the old key is retired
    for i, speaker in enumerate(speakers):
        assert Speaker.objects.get(pk=speaker.pk).name == f"Speaker {i}"
        assert Fernet(new_key).decrypt(_raw_row(speaker)["email"].encode())


def test_rotate_pii_keys_twice_rewrites_nothing_the_second_time(settings) -> None:
    SpeakerFactory.create_batch(3)
    settings.PII_ENCRYPTION_KEYS = [Fernet.generate_key().decode(), *settings.PII_ENCRYPTION_KEYS]
    rotate_pii_keys()
    again = rotate_pii_keys()
    assert again.rows_examined == 3
    assert again.rows_rewritten == 0


def test_rotate_pii_keys_rebuilds_the_blind_index_under_a_new_index_key(settings) -> None:
    speaker = SpeakerFactory(email="grace.park@example.org")
    settings.BLIND_INDEX_KEY = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
    assert get_speaker_by_email(email="grace.park@example.org") is None
    result = rotate_pii_keys()
    assert result.rows_rewritten == 1
    assert result.values_reencrypted == 0
    assert get_speaker_by_email(email="grace.park@example.org") == speaker


def test_rotate_pii_keys_command_reports_what_it_did(settings, capsys) -> None:
    SpeakerFactory.create_batch(2)
    settings.PII_ENCRYPTION_KEYS = [Fernet.generate_key().decode(), *settings.PII_ENCRYPTION_KEYS]
    call_command("rotate_pii_keys", "--batch-size", "1")
    out = capsys.readouterr().out
    # Speakers, consent signatures, webhook endpoints and stored API answers are encrypted.
    assert "examined 2 rows in 4 tables, rewrote 2 (8 values re-encrypted)" in out


def test_rotate_pii_keys_leaves_erased_speakers_without_personal_data(settings) -> None:
    speaker = erase_speaker_row(SpeakerFactory())
    settings.PII_ENCRYPTION_KEYS = [Fernet.generate_key().decode(), *settings.PII_ENCRYPTION_KEYS]
    result = rotate_pii_keys()
    assert result.rows_rewritten == 0
    assert _raw_row(speaker) == {
        "name": None,
        "email": None,
        "phone": None,
        "date_of_birth": None,
        "email_blind_index": None,
    }


def test_rotation_covers_encrypted_columns_of_other_apps_too(settings) -> None:
    from consent.models import ConsentSignature

    tables = {t.table: t for t in encrypted_tables()}
    assert tables["registry_speaker"].blind_indexes == (("email_blind_index", "email"),)
    assert ConsentSignature._meta.db_table in tables
