from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from consent.chain import verify_chain
from consent.eligibility import eligible_recordings
from consent.models import ConsentEvent, ConsentNotice, ConsentOutbox, Purpose, RecordingSession
from consent.selectors import session_clearance
from registry.models import DerivedModel, Licensee, Recording, Speaker, Track
from registry.selectors import get_speaker_by_email

pytestmark = pytest.mark.django_db


def _counts() -> dict[str, int]:
    return {
        "speakers": Speaker.objects.count(),
        "recordings": Recording.objects.count(),
        "tracks": Track.objects.count(),
        "licensees": Licensee.objects.count(),
        "derived_models": DerivedModel.objects.count(),
        "users": get_user_model().objects.count(),
    }


def test_seed_demo_twice_leaves_the_same_counts() -> None:
    call_command("seed_demo")
    first = _counts()
    call_command("seed_demo")
    assert _counts() == first


def test_seed_demo_covers_what_the_demo_needs() -> None:
    call_command("seed_demo")
    assert Speaker.objects.count() >= 20
    jurisdictions = set(Speaker.objects.values_list("jurisdiction", flat=True))
    assert {"US-IL", "US-CA", "US-TX", "US-NY", "DE", "FR", "JP"} <= jurisdictions
    assert Recording.objects.filter(channel_count=2).count() >= 30
    assert Track.objects.count() == 2 * Recording.objects.count()
    assert Licensee.objects.count() >= 1
    staff = get_user_model().objects.get(username="demo-staff")
    assert staff.is_staff
    assert staff.check_password("demo-staff-pass")
    assert list(staff.groups.values_list("name", flat=True)) == ["Compliance officer"]


def test_seed_demo_names_are_in_their_own_scripts() -> None:
    call_command("seed_demo")
    names = {s.name for s in Speaker.objects.filter(jurisdiction__in=["JP", "DE", "FR"])}
    assert "山田 太郎" in names
    assert "Jürgen Weiß" in names
    assert "Élodie Lefèvre" in names
    assert get_speaker_by_email(email="demo-speaker-19@example.org").jurisdiction == "JP"


def test_seed_demo_refuses_to_run_in_production(settings) -> None:
    settings.PRODUCTION = True
    with pytest.raises(CommandError, match="production"):
        call_command("seed_demo")
    assert Speaker.objects.count() == 0


def test_seed_demo_publishes_notices_in_english_japanese_german_and_french() -> None:
    call_command("seed_demo")
    languages = set(ConsentNotice.objects.values_list("language", flat=True))
    assert {"en", "ja", "de", "fr"} <= languages
    for purpose in Purpose.values:
        assert ConsentNotice.objects.filter(purpose=purpose, jurisdiction="JP", language="ja")


def test_seed_demo_creates_a_realistic_mix_of_consent_events_on_a_valid_chain() -> None:
    call_command("seed_demo")
    actions = set(ConsentEvent.objects.values_list("action", flat=True))
    assert {"give", "refuse", "withdraw"} <= actions
    assert set(ConsentEvent.objects.values_list("purpose", flat=True)) == set(Purpose.values)
    assert ConsentOutbox.objects.count() == 3
    assert verify_chain().ok
    # The calls were made after everyone consented, so most are usable.
    assert eligible_recordings(purpose=Purpose.RECORDING).count() >= 20
    open_sessions = RecordingSession.objects.filter(status="open")
    assert open_sessions.count() == 2
    for session in open_sessions:
        clearance = session_clearance(session)
        assert [p.consented for p in clearance].count(False) == 1  # one still awaited


def test_seed_demo_twice_writes_no_new_events() -> None:
    call_command("seed_demo")
    events = ConsentEvent.objects.count()
    call_command("seed_demo")
    assert ConsentEvent.objects.count() == events
