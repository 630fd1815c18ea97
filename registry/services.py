"""Every write to the catalogue. Each function validates, owns its transaction and
returns what it created; callers get a ``registry.errors`` exception on bad input."""

from __future__ import annotations

import datetime
import hashlib
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import Storage, storages
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone

from registry import pii
from registry.errors import ChannelMismatch, DuplicateRecord, InvalidInput
from registry.models import (
    EARLIEST_DATE_OF_BIRTH,
    JURISDICTION_RE,
    LANGUAGE_RE,
    MAX_CHANNELS,
    MAXIMUM_ATTESTED_AGE,
    MINIMUM_AGE_FLOOR,
    SHA256_RE,
    AgeVerificationMethod,
    Campaign,
    DerivedModel,
    DerivedModelStatus,
    Licensee,
    Recording,
    RecordingStatus,
    Speaker,
    Track,
    WithdrawalAction,
    WorkerHeartbeat,
)
from registry.selectors import age_on


def _require_match(value: str, pattern: str, *, field: str, what: str) -> None:
    if not re.fullmatch(pattern, value or ""):
        raise InvalidInput(f"{field} must be {what}; got {value!r}", field=field)


def _validate_jurisdiction(value: str, *, field: str = "jurisdiction") -> None:
    _require_match(value, JURISDICTION_RE, field=field, what="an ISO 3166 code such as US-IL or JP")


def _validate_language(value: str, *, field: str = "language") -> None:
    _require_match(value, LANGUAGE_RE, field=field, what="a BCP 47 language tag such as en or ja")


def _validate_email(email: str) -> None:
    try:
        validate_email(email)
    except DjangoValidationError as exc:
        raise InvalidInput("email is not a valid address", field="email") from exc


class BelowMinimumAge(InvalidInput):
    code = "below_minimum_age"
    status = 403


class AgeNotVerified(InvalidInput):
    code = "age_not_verified"
    status = 403


class AgeContradictsAttestation(InvalidInput):
    code = "age_contradicts_attestation"


class ImplausibleDateOfBirth(InvalidInput):
    code = "date_of_birth_implausible"


class AgeAlreadyVerified(InvalidInput):
    code = "age_already_verified"
    status = 409


def check_date_of_birth(date_of_birth: datetime.date, *, today: datetime.date) -> None:
    """A date of birth must be one a living person can have: from 1900-01-01 to today."""
    if date_of_birth > today:
        raise ImplausibleDateOfBirth("date_of_birth is in the future", field="date_of_birth")
    if date_of_birth < EARLIEST_DATE_OF_BIRTH:
        raise ImplausibleDateOfBirth(
            f"date_of_birth is before {EARLIEST_DATE_OF_BIRTH.isoformat()}", field="date_of_birth"
        )


def check_age(
    *,
    method: str,
    date_of_birth: datetime.date | None,
    attested_minimum: int | None,
    min_age: int,
    on: datetime.date,
) -> None:
    """The one age gate, used by every door (registration, invitation answers, every
    consent act): the speaker's age evidence must be coherent and show at least
    ``min_age`` (never below the product floor of 18) on ``on``.

    A date of birth given beside an attestation is never dropped: it must be plausible,
    it must not contradict the attestation (a date showing fewer years than attested is
    refused), and it decides the age, being the more precise of the two. An unverified
    speaker cannot carry a date of birth: the date would be a verification in all but
    name, so it must be sent with ``age_verification_method: date_of_birth``.
    """
    min_age = max(min_age, MINIMUM_AGE_FLOOR)
    if method not in AgeVerificationMethod.values:
        raise InvalidInput(
            f"unknown age verification method {method!r}", field="age_verification_method"
        )
    if date_of_birth is not None:
        check_date_of_birth(date_of_birth, today=on)
    if method == AgeVerificationMethod.UNVERIFIED:
        if date_of_birth is not None or attested_minimum is not None:
            raise InvalidInput(
                "a date of birth or an attested age needs an age_verification_method "
                "(date_of_birth, document_check or platform_attestation), not unverified",
                field="age_verification_method",
            )
        raise AgeNotVerified("the speaker's age has not been verified", field="age")
    if method == AgeVerificationMethod.DATE_OF_BIRTH:
        if date_of_birth is None:
            raise InvalidInput("date_of_birth is required for this method", field="date_of_birth")
        if attested_minimum is not None:
            raise InvalidInput(
                "age_attested_minimum belongs to an attestation or a document check, "
                "not to a self-declared date of birth",
                field="age_attested_minimum",
            )
    elif attested_minimum is None or attested_minimum < MINIMUM_AGE_FLOOR:
        raise InvalidInput(
            f"an age attestation must state at least {MINIMUM_AGE_FLOOR} years",
            field="age_attested_minimum",
        )
    elif attested_minimum > MAXIMUM_ATTESTED_AGE:
        raise InvalidInput(
            f"an age attestation cannot state more than {MAXIMUM_ATTESTED_AGE} years",
            field="age_attested_minimum",
        )
    age = age_on(date_of_birth, on) if date_of_birth is not None else attested_minimum
    assert age is not None  # noqa: S101 - one of the two is known past the checks above
    if age < min_age:
        raise BelowMinimumAge(f"speakers must be at least {min_age} years old", field="age")
    if date_of_birth is not None and attested_minimum is not None and age < attested_minimum:
        raise AgeContradictsAttestation(
            f"the date of birth gives {age} years, fewer than the {attested_minimum} attested",
            field="date_of_birth",
        )


def check_speaker_age(*, speaker: Speaker, min_age: int, on: datetime.date) -> None:
    """``check_age`` on a stored speaker (every consent act asks this)."""
    if speaker.age_verification_method == AgeVerificationMethod.UNVERIFIED:
        # Whatever else the row holds (rows written before this gate could keep a date
        # of birth beside "unverified"), nothing verified the age.
        raise AgeNotVerified("the speaker's age has not been verified", field="age")
    check_age(
        method=speaker.age_verification_method,
        date_of_birth=speaker.date_of_birth,
        attested_minimum=speaker.age_attested_minimum,
        min_age=min_age,
        on=on,
    )


def register_speaker(
    *,
    name: str,
    jurisdiction: str,
    preferred_language: str,
    email: str | None = None,
    phone: str | None = None,
    date_of_birth: datetime.date | None = None,
    age_verification_method: str = AgeVerificationMethod.UNVERIFIED,
    age_attested_minimum: int | None = None,
) -> Speaker:
    """Create a speaker; refuses a duplicate email (by blind index) and anyone under 18."""
    name = (name or "").strip()
    if not name:
        raise InvalidInput("name is required", field="name")
    _validate_jurisdiction(jurisdiction)
    _validate_language(preferred_language, field="preferred_language")
    email = (email or "").strip() or None
    blind_index = None
    if email:
        _validate_email(email)
        blind_index = pii.email_blind_index(email)
    now = timezone.now()
    if age_verification_method != AgeVerificationMethod.UNVERIFIED or (
        date_of_birth is not None or age_attested_minimum is not None
    ):
        # Registration checks the product floor; each consent act checks the rules of
        # its purpose and place (consent.services.checks) through the same function.
        check_age(
            method=age_verification_method,
            date_of_birth=date_of_birth,
            attested_minimum=age_attested_minimum,
            min_age=MINIMUM_AGE_FLOOR,
            on=now.date(),
        )
    duplicate = DuplicateRecord("a speaker with this email already exists", field="email")
    try:
        # Not durable: the collection API stores an Idempotency-Key answer with it.
        with transaction.atomic():
            if blind_index and Speaker.objects.filter(email_blind_index=blind_index).exists():
                raise duplicate
            return Speaker.objects.create(
                name=name,
                email=email,
                email_blind_index=blind_index,
                phone=(phone or "").strip() or None,
                jurisdiction=jurisdiction,
                preferred_language=preferred_language,
                date_of_birth=date_of_birth,
                age_verification_method=age_verification_method,
                age_attested_minimum=age_attested_minimum,
                age_verified_at=None
                if age_verification_method == AgeVerificationMethod.UNVERIFIED
                else now,
            )
    except IntegrityError as exc:
        # Two registrations of one email raced past the check: the unique index decides.
        if "email_blind_index" in str(exc):
            raise duplicate from exc
        raise


def verify_speaker_age(*, speaker: Speaker, date_of_birth: datetime.date, min_age: int) -> Speaker:
    """Record the speaker's own date of birth as their age verification.

    Refuses anyone younger than ``min_age`` (the strictest rule where they live and where
    the call takes place; never below the product floor) and then keeps nothing: the
    date of birth of a refused person is not stored. Refuses a speaker already verified:
    a self-declared date must never replace a document check or an attestation.
    """
    check_age(
        method=AgeVerificationMethod.DATE_OF_BIRTH,
        date_of_birth=date_of_birth,
        attested_minimum=None,
        min_age=min_age,
        on=timezone.now().date(),
    )
    with transaction.atomic(durable=True):
        speaker = Speaker.objects.select_for_update(no_key=True).get(pk=speaker.pk)
        if speaker.erased_at is not None:
            raise InvalidInput("this speaker's data was erased", field="speaker")
        if speaker.age_verification_method != AgeVerificationMethod.UNVERIFIED:
            raise AgeAlreadyVerified("this speaker's age is already verified", field="age")
        speaker.date_of_birth = date_of_birth
        speaker.age_verification_method = AgeVerificationMethod.DATE_OF_BIRTH
        speaker.age_attested_minimum = None
        speaker.age_verified_at = timezone.now()
        speaker.save(
            update_fields=[
                "date_of_birth",
                "age_verification_method",
                "age_attested_minimum",
                "age_verified_at",
                "updated_at",
            ]
        )
        return speaker


def register_recording(
    *,
    external_ref: str,
    recorded_at: datetime.datetime,
    duration_ms: int,
    sample_rate_hz: int,
    isolated_at_source: bool,
    language: str,
    jurisdiction: str,
    speakers: Sequence[Speaker],
    campaign: Campaign | None = None,
) -> Recording:
    """Create a recording with one track per channel; ``speakers[i]`` is on channel ``i``.

    Every participant is a separate data subject, so each channel has exactly one
    speaker and no speaker appears on two channels.
    """
    with transaction.atomic(durable=True):
        return create_recording_with_tracks(
            external_ref=external_ref,
            recorded_at=recorded_at,
            duration_ms=duration_ms,
            sample_rate_hz=sample_rate_hz,
            isolated_at_source=isolated_at_source,
            language=language,
            jurisdiction=jurisdiction,
            speakers=speakers,
            campaign=campaign,
        )


def create_recording_with_tracks(
    *,
    external_ref: str,
    recorded_at: datetime.datetime,
    duration_ms: int,
    sample_rate_hz: int,
    isolated_at_source: bool,
    language: str,
    jurisdiction: str,
    speakers: Sequence[Speaker],
    campaign: Campaign | None = None,
) -> Recording:
    """``register_recording`` inside the caller's transaction (e.g. a pre-call session
    starting its recording); the caller owns the transaction."""
    external_ref = (external_ref or "").strip()
    if not external_ref:
        raise InvalidInput("external_ref is required", field="external_ref")
    if timezone.is_naive(recorded_at):
        raise InvalidInput("recorded_at must carry a time zone", field="recorded_at")
    if recorded_at > timezone.now():
        raise InvalidInput("recorded_at is in the future", field="recorded_at")
    if duration_ms <= 0:
        raise InvalidInput("duration_ms must be positive", field="duration_ms")
    if not 8000 <= sample_rate_hz <= 192_000:
        raise InvalidInput("sample_rate_hz must be within 8000..192000", field="sample_rate_hz")
    _validate_language(language)
    _validate_jurisdiction(jurisdiction)
    if not 1 <= len(speakers) <= MAX_CHANNELS:
        raise ChannelMismatch(
            f"a recording has 1..{MAX_CHANNELS} channels; got {len(speakers)} speakers",
            field="speakers",
        )
    if len({s.pk for s in speakers}) != len(speakers):
        raise ChannelMismatch("a speaker can be on only one channel", field="speakers")
    if any(s.erased_at is not None for s in speakers):
        raise InvalidInput("an erased speaker cannot be recorded", field="speakers")
    if Recording.objects.filter(external_ref=external_ref).exists():
        raise DuplicateRecord(
            f"recording {external_ref!r} is already registered", field="external_ref"
        )
    recording = Recording.objects.create(
        external_ref=external_ref,
        recorded_at=recorded_at,
        duration_ms=duration_ms,
        sample_rate_hz=sample_rate_hz,
        channel_count=len(speakers),
        isolated_at_source=isolated_at_source,
        language=language,
        jurisdiction=jurisdiction,
        campaign=campaign,
    )
    Track.objects.bulk_create(
        Track(recording=recording, channel=channel, speaker=speaker)
        for channel, speaker in enumerate(speakers)
    )
    return recording


def attach_recording_audio(*, recording: Recording, audio_uri: str, audio_sha256: str) -> Recording:
    """Record where the audio is stored and its digest; the recording becomes available.
    ``storage:`` URIs name the registry's own objects (``store_recording_audio``): a
    caller cannot point a recording at one, or a withdrawal would delete another's audio."""
    if (audio_uri or "").strip().startswith(STORAGE_URI_PREFIX):
        raise InvalidInput(
            f"audio_uri: the {STORAGE_URI_PREFIX!r} scheme is the registry's own", field="audio_uri"
        )
    with transaction.atomic(durable=True):
        return _attach_audio(recording=recording, audio_uri=audio_uri, audio_sha256=audio_sha256)


def _attach_audio(*, recording: Recording, audio_uri: str, audio_sha256: str) -> Recording:
    audio_uri = (audio_uri or "").strip()
    if not audio_uri:
        raise InvalidInput("audio_uri is required", field="audio_uri")
    _require_match(audio_sha256, SHA256_RE, field="audio_sha256", what="64 lowercase hex digits")
    with transaction.atomic():
        locked = Recording.objects.select_for_update().get(pk=recording.pk)
        if locked.status not in (RecordingStatus.REGISTERED, RecordingStatus.AVAILABLE):
            # A quarantined recording is released by review, never by an upload; a
            # destroyed one never comes back.
            raise InvalidInput(
                f"audio cannot be attached to a recording that is {locked.status}",
                field="status",
            )
        if locked.audio_sha256 and locked.audio_sha256 != audio_sha256:
            # Releases and their manifests name this digest: the audio may move to a
            # new URI, but it is never replaced by different audio.
            raise InvalidInput(
                "this recording's audio was ingested with another digest; it cannot change",
                field="audio_sha256",
            )
        locked.audio_uri = audio_uri
        locked.audio_sha256 = audio_sha256
        locked.status = RecordingStatus.AVAILABLE
        locked.save(update_fields=["audio_uri", "audio_sha256", "status", "updated_at"])
    return locked


# A recording's audio_uri naming an object in the "audio" storage (rather than a URI
# the collection platform keeps): propagation can delete it.
STORAGE_URI_PREFIX = "storage:"


def audio_storage() -> Storage:
    """Where track audio and voiceprint templates live (settings.STORAGES["audio"])."""
    return storages["audio"]


@contextmanager
def stored_object(name: str, content: bytes) -> Iterator[str]:
    """Write ``content`` to the "audio" storage (yielding the name it got) for the row
    that will point at it; if writing that row fails, the object is removed again, so
    a failed store leaves no audio without its row."""
    storage = audio_storage()
    stored = storage.save(name, ContentFile(content))
    try:
        yield stored
    except BaseException:
        storage.delete(stored)
        raise


def store_track_audio(*, track: Track, content: bytes) -> Track:
    """Store one channel's audio on its own, named by ids (no personal data), with its
    SHA-256. Once stored it is never replaced: deletion is propagation's and final.
    Callers check consent first: ``consent.services.audio.store_track_audio``."""
    if not content:
        raise InvalidInput("audio content is empty", field="content")
    digest = hashlib.sha256(content).hexdigest()
    with transaction.atomic():
        locked = Track.objects.select_for_update().select_related("recording").get(pk=track.pk)
        if locked.audio_deleted_at is not None:
            raise InvalidInput("this track's audio was destroyed; it cannot return", field="track")
        if locked.audio_name:
            if locked.audio_sha256 != digest:
                raise InvalidInput(
                    "this track's audio was stored with another digest", field="content"
                )
            return locked
        name = f"tracks/{locked.recording.public_id}/{locked.channel}-{locked.public_id}.audio"
        with stored_object(name, content) as stored_name:
            locked.audio_name = stored_name
            locked.audio_sha256 = digest
            locked.save(update_fields=["audio_name", "audio_sha256"])
    return locked


def store_recording_audio(*, recording: Recording, content: bytes) -> Recording:
    """Store the recording's mixed (all-channel) file in the "audio" storage and make
    the recording available, pointing ``audio_uri`` at it (``storage:<name>``). The same
    bytes again change nothing; different bytes are refused before anything is written.
    Callers check consent first: ``consent.services.audio.store_recording_audio``."""
    if not content:
        raise InvalidInput("audio content is empty", field="content")
    digest = hashlib.sha256(content).hexdigest()
    with transaction.atomic():
        locked = Recording.objects.select_for_update().get(pk=recording.pk)
        if locked.audio_sha256:
            if locked.audio_sha256 != digest:
                raise InvalidInput(
                    "this recording's audio was ingested with another digest; it cannot change",
                    field="content",
                )
            if locked.audio_uri.startswith(STORAGE_URI_PREFIX):
                return locked
        with stored_object(f"recordings/{locked.public_id}.audio", content) as name:
            return _attach_audio(
                recording=locked, audio_uri=STORAGE_URI_PREFIX + name, audio_sha256=digest
            )


def mark_recording_audio_deleted(*, recording_id: int) -> Recording:
    """The mixed file holds every participant's voice: once it is destroyed the
    recording keeps its facts (evidence) but is never available again."""
    with transaction.atomic():
        locked = Recording.objects.select_for_update().get(pk=recording_id)
        if locked.status != RecordingStatus.AUDIO_DELETED:
            locked.status = RecordingStatus.AUDIO_DELETED
            locked.audio_uri = ""
            locked.save(update_fields=["status", "audio_uri", "updated_at"])
    return locked


def flag_derived_model(*, model_id: int, action: str, at: datetime.datetime) -> DerivedModel:
    """Mark a model as trained on withdrawn data with the action its contract requires
    (idempotency is the caller's: propagation flags once per delivered target)."""
    if action not in WithdrawalAction.values:
        raise InvalidInput(f"unknown action {action!r}", field="action")
    with transaction.atomic():
        model = DerivedModel.objects.select_for_update().get(pk=model_id)
        if model.status != DerivedModelStatus.RETIRED:
            model.status = DerivedModelStatus.FLAGGED
        model.flagged_at = model.flagged_at or at
        model.required_action = action
        model.withdrawals_pending += 1
        model.save(update_fields=["status", "flagged_at", "required_action", "withdrawals_pending"])
    return model


def register_campaign(*, slug: str, name: str) -> Campaign:
    """Create a collection campaign (its rate plans live in ``compensation``)."""
    slug = (slug or "").strip()
    if not re.fullmatch(r"[-a-z0-9]{1,80}", slug):
        raise InvalidInput("slug must be 1-80 lowercase letters, digits or hyphens", field="slug")
    if not (name or "").strip():
        raise InvalidInput("name is required", field="name")
    with transaction.atomic(durable=True):
        if Campaign.objects.filter(slug=slug).exists():
            raise DuplicateRecord(f"campaign {slug!r} exists", field="slug")
        return Campaign.objects.create(slug=slug, name=name.strip())


def register_licensee(*, name: str, slug: str, contact_email: str, jurisdiction: str) -> Licensee:
    """Create a licensee; its slug is its stable handle."""
    name = (name or "").strip()
    if not name:
        raise InvalidInput("name is required", field="name")
    _require_match(slug, r"^[a-z0-9][a-z0-9-]{0,79}$", field="slug", what="a lowercase slug")
    _validate_email(contact_email)
    _validate_jurisdiction(jurisdiction)
    with transaction.atomic(durable=True):
        if Licensee.objects.filter(slug=slug).exists():
            raise DuplicateRecord(f"licensee {slug!r} already exists", field="slug")
        return Licensee.objects.create(
            name=name, slug=slug, contact_email=contact_email, jurisdiction=jurisdiction
        )


def register_derived_model(
    *,
    licensee: Licensee,
    name: str,
    version: str,
    withdrawal_action: str,
    contract_reference: str = "",
    description: str = "",
    trained_at: datetime.datetime | None = None,
) -> DerivedModel:
    """Record a model a licensee trained; ``withdrawal_action`` is what its contract obliges."""
    if withdrawal_action not in WithdrawalAction.values:
        raise InvalidInput(
            f"withdrawal_action must be one of {', '.join(WithdrawalAction.values)}",
            field="withdrawal_action",
        )
    if not (name or "").strip() or not (version or "").strip():
        raise InvalidInput("name and version are required", field="name")
    duplicate = DuplicateRecord(f"{name} {version} is already registered", field="version")
    # Not durable: declaring a model over the API registers it and its releases at once.
    with transaction.atomic():
        if DerivedModel.objects.filter(licensee=licensee, name=name, version=version).exists():
            raise duplicate
        try:
            # A savepoint: a twin request committing first is a duplicate, not a 500.
            with transaction.atomic():
                return DerivedModel.objects.create(
                    licensee=licensee,
                    name=name.strip(),
                    version=version.strip(),
                    withdrawal_action=withdrawal_action,
                    contract_reference=contract_reference,
                    description=description,
                    trained_at=trained_at,
                )
        except IntegrityError as exc:
            raise duplicate from exc


def record_worker_heartbeat(*, name: str, hostname: str) -> WorkerHeartbeat:
    """Upsert the heartbeat row a beat-scheduled task writes."""
    heartbeat, _ = WorkerHeartbeat.objects.update_or_create(
        name=name, defaults={"beat_at": timezone.now(), "hostname": hostname[:255]}
    )
    return heartbeat


class DerivedModelStatusConflict(InvalidInput):
    code = "model_status_conflict"
    status = 409


REPORTABLE_MODEL_STATUSES = (
    DerivedModelStatus.RETRAINED,
    DerivedModelStatus.FILTERED,
    DerivedModelStatus.RETIRED,
)


def report_derived_model_status(
    *, model_id: int, status: str, at: datetime.datetime
) -> tuple[DerivedModel, int]:
    """Record that a licensee acted on the withdrawals carried to its model; returns the
    model and how many withdrawals that cleared. Only a flagged model can be reported
    retrained or filtered (and filtering does not answer a contract that requires
    retraining); any model but a retired one can be retired, and retired is final.
    Runs in the caller's transaction (propagation acknowledges the model's notices in
    the same one)."""
    if status not in REPORTABLE_MODEL_STATUSES:
        raise InvalidInput(
            "status must be one of " + ", ".join(REPORTABLE_MODEL_STATUSES), field="status"
        )
    with transaction.atomic():
        model = DerivedModel.objects.select_for_update().get(pk=model_id)
        if model.status == DerivedModelStatus.RETIRED:
            raise DerivedModelStatusConflict("a retired model cannot change status", field="status")
        if status != DerivedModelStatus.RETIRED and model.status != DerivedModelStatus.FLAGGED:
            raise DerivedModelStatusConflict(
                f"only a flagged model can be reported {status}; this one is {model.status}",
                field="status",
            )
        retrain_required = model.required_action == WithdrawalAction.RETRAIN
        if status == DerivedModelStatus.FILTERED and retrain_required:
            raise DerivedModelStatusConflict(
                "this model's contract requires retraining; filtering does not answer it",
                field="status",
            )
        cleared = model.withdrawals_pending
        model.status = status
        # The next withdrawal flags it afresh, dated then.
        model.flagged_at = None
        model.required_action = ""
        model.withdrawals_pending = 0
        model.save(update_fields=["status", "flagged_at", "required_action", "withdrawals_pending"])
    return model, cleared
