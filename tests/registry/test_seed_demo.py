from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

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
