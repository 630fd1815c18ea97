"""factory_boy factories. Speakers and recordings are built through the services, so
the blind index, age checks and track coverage are the real ones."""

from __future__ import annotations

import datetime
import hashlib
from typing import Any

import factory
from django.utils import timezone

from registry import services
from registry.models import AgeVerificationMethod, DerivedModel, Licensee, Recording, Speaker


class SpeakerFactory(factory.django.DjangoModelFactory[Speaker]):
    class Meta:
        model = Speaker

    name = factory.Faker("name")
    email = factory.Sequence(lambda n: f"speaker-{n}@example.org")
    phone = factory.Sequence(lambda n: f"+1 312 555 {n:04d}")
    jurisdiction = "US-IL"
    preferred_language = "en"
    date_of_birth = datetime.date(1990, 5, 17)
    age_verification_method = AgeVerificationMethod.DATE_OF_BIRTH

    @classmethod
    def _create(cls, model_class: type[Speaker], *args: Any, **kwargs: Any) -> Speaker:
        return services.register_speaker(**kwargs)


def erase_speaker_row(speaker: Speaker) -> Speaker:
    """Blank a speaker's personal data the way erasure leaves the row (test set-up only;
    the erasure service arrives with propagation)."""
    Speaker.objects.filter(pk=speaker.pk).update(
        name=None,
        email=None,
        email_blind_index=None,
        phone=None,
        date_of_birth=None,
        erased_at=timezone.now(),
    )
    speaker.refresh_from_db()
    return speaker


class RecordingFactory(factory.django.DjangoModelFactory[Recording]):
    class Meta:
        model = Recording

    external_ref = factory.Sequence(lambda n: f"call-{n:06d}")
    recorded_at = factory.LazyFunction(lambda: timezone.now() - datetime.timedelta(days=1))
    duration_ms = 600_000
    sample_rate_hz = 16_000
    isolated_at_source = True
    language = "en"
    jurisdiction = "US-IL"
    speakers = factory.LazyFunction(lambda: [SpeakerFactory(), SpeakerFactory()])
    with_audio = True

    @classmethod
    def _create(cls, model_class: type[Recording], *args: Any, **kwargs: Any) -> Recording:
        with_audio = kwargs.pop("with_audio")
        recording = services.register_recording(**kwargs)
        if with_audio:
            recording = services.attach_recording_audio(
                recording=recording,
                audio_uri=f"s3://test-audio/{recording.external_ref}.flac",
                audio_sha256=hashlib.sha256(recording.external_ref.encode()).hexdigest(),
            )
        return recording


class LicenseeFactory(factory.django.DjangoModelFactory[Licensee]):
    class Meta:
        model = Licensee

    name = factory.Sequence(lambda n: f"Licensee {n}")
    slug = factory.Sequence(lambda n: f"licensee-{n}")
    contact_email = factory.Sequence(lambda n: f"licensing-{n}@example.com")
    jurisdiction = "US-CA"

    @classmethod
    def _create(cls, model_class: type[Licensee], *args: Any, **kwargs: Any) -> Licensee:
        return services.register_licensee(**kwargs)


class DerivedModelFactory(factory.django.DjangoModelFactory[DerivedModel]):
    class Meta:
        model = DerivedModel

    licensee = factory.SubFactory(LicenseeFactory)
    name = "duplex"
    version = factory.Sequence(lambda n: f"1.{n}")
    withdrawal_action = "retrain"

    @classmethod
    def _create(cls, model_class: type[DerivedModel], *args: Any, **kwargs: Any) -> DerivedModel:
        return services.register_derived_model(**kwargs)
