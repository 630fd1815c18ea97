"""The plan: written with the consent event, set-based, and only what the withdrawn
purpose touches."""

from __future__ import annotations

from unittest import mock

import pytest

from consent import services as consent
from consent.models import ConsentEvent, ConsentOutbox, OutboxKind
from propagation import planning
from propagation.models import Propagation, PropagationStatus, TargetKind, TargetStatus
from tests.consent.conftest import give, signed, withdraw
from tests.factories import SpeakerFactory
from tests.propagation.conftest import World

pytestmark = pytest.mark.django_db


def _kinds(propagation: Propagation) -> dict[str, int]:
    counts: dict[str, int] = {}
    for target in propagation.targets.all():
        counts[target.kind] = counts.get(target.kind, 0) + 1
    return counts


def _plan_of(speaker) -> Propagation:
    return Propagation.objects.filter(speaker=speaker).latest("id")


def test_a_withdrawal_commits_with_its_plan(world: World) -> None:
    withdraw(world.a, "training")
    propagation = _plan_of(world.a)
    assert propagation.outbox.event.action == "withdraw"
    assert propagation.kind == OutboxKind.WITHDRAWAL
    assert propagation.purpose == "training"
    # The training release, its licensee, the model trained on it; nothing else.
    assert _kinds(propagation) == {
        TargetKind.RELEASE: 1,
        TargetKind.LICENSE: 1,
        TargetKind.DERIVED_MODEL: 1,
    }
    release_target = propagation.targets.get(kind=TargetKind.RELEASE)
    assert release_target.release == world.release
    assert propagation.targets.get(kind=TargetKind.LICENSE).license == world.license
    assert propagation.targets.get(kind=TargetKind.DERIVED_MODEL).derived_model == world.model
    assert set(propagation.targets.values_list("status", flat=True)) == {TargetStatus.PENDING}
    # Distinct idempotency keys, one per target.
    assert propagation.targets.values("idempotency_key").distinct().count() == 3


def test_a_biometric_withdrawal_reaches_biometric_releases_and_templates_only(
    world: World,
) -> None:
    withdraw(world.a, "biometric")
    propagation = _plan_of(world.a)
    assert _kinds(propagation) == {TargetKind.RELEASE: 1, TargetKind.VOICEPRINT: 1}
    assert propagation.targets.get(kind=TargetKind.RELEASE).release == world.biometric_release
    assert propagation.targets.get(kind=TargetKind.VOICEPRINT).voiceprint == world.voiceprint


def test_a_recording_withdrawal_reaches_everything_and_the_speakers_own_audio(
    world: World,
) -> None:
    withdraw(world.a, "recording")
    propagation = _plan_of(world.a)
    kinds = _kinds(propagation)
    assert kinds[TargetKind.RELEASE] == 2  # both datasets hold the calls
    assert kinds[TargetKind.AUDIO] == len(world.calls)
    audio_tracks = {t.track for t in propagation.targets.filter(kind=TargetKind.AUDIO)}
    # Only a's channel of each call; b's audio is not a target.
    assert {t.speaker_id for t in audio_tracks} == {world.a.pk}
    assert {t.recording_id for t in audio_tracks} == {r.pk for r in world.calls}
    assert TargetKind.VOICEPRINT not in kinds


def test_an_erasure_plans_personal_data_audio_and_voiceprints(world: World) -> None:
    consent.request_erasure(
        speaker=world.a, evidence=signed(), actor=consent.Actor.of_speaker(world.a)
    )
    erasure = Propagation.objects.get(speaker=world.a, kind=OutboxKind.ERASURE)
    kinds = _kinds(erasure)
    assert kinds[TargetKind.PERSONAL_DATA] == 1
    assert kinds[TargetKind.AUDIO] == len(world.calls)
    assert kinds[TargetKind.VOICEPRINT] == 1
    assert kinds[TargetKind.RELEASE] == 2
    # Each consent withdrawn by the erasure has its own plan too.
    withdrawals = Propagation.objects.filter(speaker=world.a, kind=OutboxKind.WITHDRAWAL)
    assert withdrawals.count() == 4


def test_a_speaker_in_no_release_gets_a_plan_that_is_complete_at_once(world: World) -> None:
    loner = SpeakerFactory()
    give(loner, "training")
    withdraw(loner, "training")
    propagation = _plan_of(loner)
    assert propagation.targets.count() == 0
    assert propagation.status == PropagationStatus.COMPLETED


def test_a_session_scoped_withdrawal_reaches_only_that_sessions_recording(world: World) -> None:
    from tests.consent.test_sessions import _session, _start

    session, (p, q) = _session()
    for speaker in (p, q):
        give(speaker, "recording", session=session)
    _start(session)
    withdraw(p, "recording", session=session)
    propagation = _plan_of(p)
    assert propagation.session == session
    # Not in any release, no stored audio: nothing to reach, and nothing from a's world.
    assert propagation.targets.count() == 0


def test_when_planning_fails_the_withdrawal_is_not_recorded(world: World) -> None:
    events = ConsentEvent.objects.count()
    with (
        mock.patch.object(planning, "plan", side_effect=RuntimeError("plan failed")),
        pytest.raises(RuntimeError),
    ):
        withdraw(world.a, "training")
    assert ConsentEvent.objects.count() == events
    assert not ConsentOutbox.objects.filter(event__speaker=world.a).exists()
    assert world.a.consents.get(purpose="training", session__isnull=True).state == "given"


def test_planning_an_outbox_row_twice_returns_the_same_plan(world: World) -> None:
    withdraw(world.a, "training")
    row = ConsentOutbox.objects.get(event__speaker=world.a)
    first = planning.plan(row)
    again = planning.plan(row)
    assert first.pk == again.pk
    assert first.targets.count() == 3
