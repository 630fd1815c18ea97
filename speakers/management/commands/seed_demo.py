"""Idempotent demo data for `make run`: speakers in seven jurisdictions (names in their
own scripts) with portal accounts, consent notices in four languages, a realistic mix
of consent events, two-channel recordings made through pre-call sessions under paid
campaigns, a licensee with a derived model, and staff logins. Lives in the highest app
of the import graph because it uses them all."""

from __future__ import annotations

import datetime
import random
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from compensation import services as compensation
from compensation.models import RatePlan
from consent import demo
from consent.models import ConsentEvent, RecordingSession
from consent.services import invitation_token
from datasetcards import services as datasets
from datasetcards.models import Dataset, Release
from registry import services
from registry.models import (
    AgeVerificationMethod,
    Campaign,
    DerivedModel,
    Licensee,
    Recording,
    Speaker,
    WithdrawalAction,
)
from registry.selectors import get_speaker_by_email
from speakers.services import ensure_account, set_speaker_password

# (jurisdiction, language, phone prefix, names in their own script)
DEMO_SPEAKERS: list[tuple[str, str, str, list[str]]] = [
    ("US-IL", "en", "+1 312 555 01", ["Maria Hernández", "James O'Connor", "Aisha Johnson"]),
    ("US-CA", "en", "+1 415 555 01", ["Wei Chen", "Sofía Ramírez", "Daniel Kim"]),
    ("US-TX", "en", "+1 512 555 01", ["Emily Carter", "Luis García", "Olivia Nguyen"]),
    ("US-NY", "en", "+1 212 555 01", ["Noah Goldberg", "Grace Park", "Samuel Adeyemi"]),
    ("DE", "de", "+49 30 5550 1", ["Jürgen Weiß", "Anna Müller", "Lukas Schröder"]),
    ("FR", "fr", "+33 1 55 50 1", ["Élodie Lefèvre", "François Dubois", "Chloé Garnier"]),
    ("JP", "ja", "+81 3 5550 1", ["山田 太郎", "佐藤 花子", "鈴木 一郎"]),
]
# Invited to a call but not yet consenting to anything: they show "awaited" sessions.
DEMO_INVITED: list[tuple[str, str, str, list[str]]] = [
    ("US-CA", "en", "+1 415 555 02", ["Carmen Vidal"]),
    ("JP", "ja", "+81 3 5550 2", ["高橋 美咲"]),
]
DEMO_RECORDINGS = 32
DEMO_LICENSEE_SLUG = "acme-speech-labs"
DEMO_DATASET_SLUG = "duplex-demo"
# Speakers who can sign in with a password (everyone can sign in with an emailed link).
DEMO_SPEAKER_PASSWORD = "demo-speaker-pass"  # noqa: S105 - public demo data
DEMO_PASSWORD_SPEAKERS = ("demo-speaker-01@example.org", "demo-speaker-19@example.org")
# (slug, name, currency, amount per recorded speaker-hour, jurisdiction prefix or "*")
DEMO_CAMPAIGNS = (
    ("duplex-2026-intl", "Duplex conversations 2026 (international)", "USD", "30.00", "*"),
    ("duplex-2026-jp", "Duplex conversations 2026 (Japan)", "JPY", "4500", "JP"),
)
DEMO_USERS = (
    ("demo-admin", "demo-admin-pass", True),
    ("demo-staff", "demo-staff-pass", False),
)


class Command(BaseCommand):
    help = "Load demo speakers, recordings, a licensee and staff logins (safe to run twice)."

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.PRODUCTION:
            raise CommandError("seed_demo refuses to run in production")
        speakers = self._speakers(DEMO_SPEAKERS, first_number=1)
        invited = self._speakers(DEMO_INVITED, first_number=len(speakers) + 1)
        demo.publish_demo_notices()
        first_run = not ConsentEvent.objects.exists()
        demo.seed_consents(speakers)
        created_recordings = self._recordings(speakers, self._campaigns())
        demo.seed_open_sessions(consenting=speakers[0], invited=invited)
        if first_run:
            demo.seed_withdrawals(speakers)
        licensee = self._licensee()
        self._dataset(licensee)
        self._users()
        self._accounts([*speakers, *invited])
        compensation.accrue_earnings()
        if first_run:
            compensation.record_payout(
                speaker=speakers[0], currency="USD", amount="5.00", reference="DEMO-PAY-0001"
            )
        self.stdout.write(
            self.style.SUCCESS(
                f"demo data: {Speaker.objects.count()} speakers, "
                f"{Recording.objects.count()} recordings "
                f"({created_recordings} new), {ConsentEvent.objects.count()} consent events, "
                f"{Licensee.objects.count()} licensees"
            )
        )

    def _speakers(
        self, groups: list[tuple[str, str, str, list[str]]], *, first_number: int
    ) -> list[Speaker]:
        speakers = []
        number = first_number - 1
        for jurisdiction, language, phone_prefix, names in groups:
            for name in names:
                number += 1
                email = f"demo-speaker-{number:02d}@example.org"
                speaker = get_speaker_by_email(email=email)
                if speaker is None:
                    by_dob = number % 2 == 0
                    speaker = services.register_speaker(
                        name=name,
                        email=email,
                        phone=f"{phone_prefix}{number:02d}",
                        jurisdiction=jurisdiction,
                        preferred_language=language,
                        date_of_birth=datetime.date(1960 + number, 1 + number % 12, 1 + number)
                        if by_dob
                        else None,
                        age_verification_method=AgeVerificationMethod.DATE_OF_BIRTH
                        if by_dob
                        else AgeVerificationMethod.PLATFORM_ATTESTATION,
                        age_attested_minimum=None if by_dob else 18,
                    )
                speakers.append(speaker)
        return speakers

    def _campaigns(self) -> dict[str, Campaign]:
        campaigns = {}
        for slug, name, currency, rate, region in DEMO_CAMPAIGNS:
            campaign = Campaign.objects.filter(slug=slug).first() or services.register_campaign(
                slug=slug, name=name
            )
            if not RatePlan.objects.filter(campaign=campaign).exists():
                compensation.publish_rate_plan(
                    campaign=campaign,
                    currency=currency,
                    amount_per_hour=rate,
                    effective_from=datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC),
                )
            campaigns[region] = campaign
        return campaigns

    def _accounts(self, speakers: list[Speaker]) -> None:
        for speaker in speakers:
            account = ensure_account(speaker=speaker)
            if speaker.email in DEMO_PASSWORD_SPEAKERS and not account.user.has_usable_password():
                set_speaker_password(account=account, password=DEMO_SPEAKER_PASSWORD)
        self.stdout.write(
            "speaker sign-in (password "
            f"{DEMO_SPEAKER_PASSWORD}): " + ", ".join(DEMO_PASSWORD_SPEAKERS)
        )
        for session in RecordingSession.objects.filter(
            external_ref__startswith="demo-open-session"
        ).order_by("external_ref"):
            for participant in session.participants.select_related("session").order_by("channel"):
                self.stdout.write(
                    f"invitation {session.external_ref} participant {participant.channel + 1}: "
                    f"{settings.PUBLIC_BASE_URL}/invite/{invitation_token(participant)}/"
                )

    def _recordings(self, speakers: list[Speaker], campaigns: dict[str, Campaign]) -> int:
        """Two-channel calls between demo speakers, made through pre-call sessions."""
        rng = random.Random(2026)  # fixed: the same demo on every machine
        pairs, durations = [], []
        for number in range(1, DEMO_RECORDINGS + 1):
            group = rng.randrange(len(DEMO_SPEAKERS))
            first, second = rng.sample(range(3), 2)
            other_group = (group + 1) % len(DEMO_SPEAKERS) if number % 8 == 0 else group
            pairs.append((group * 3 + first, other_group * 3 + second))
            durations.append(
                (
                    rng.randint(4 * 60, 15 * 60) * 1000 + rng.randint(0, 999),
                    rng.choice([16_000, 24_000, 48_000]),
                )
            )
        return demo.seed_sessions(speakers, pairs, durations, campaigns)

    def _dataset(self, licensee: Licensee) -> None:
        """A published corpus with one built release, licensed to the demo licensee."""
        dataset = Dataset.objects.filter(slug=DEMO_DATASET_SLUG).first()
        if dataset is None:
            dataset = datasets.create_dataset(
                slug=DEMO_DATASET_SLUG,
                name="Duplex conversations (demo)",
                description="Two-channel conversations between consenting adults in seven "
                "jurisdictions, one speaker per channel.",
                purpose_statement="Real turn-taking for post-training full-duplex speech "
                "models: each voice isolated on its own channel, every speaker paid.",
                intended_purposes=["training", "redistribution"],
                license_spdx="CC-BY-NC-4.0",
                phase_fit=["post"],
                owner="Voice Consent Registry (demo)",
                redress_contact=settings.CONSENT_CONTROLLER["email"],
                processing_description="Per-channel loudness normalisation; silence at the "
                "start and end trimmed; nothing else changed.",
                isolated_at_source_only=False,
            )
        if not dataset.releases.exists():
            release = datasets.create_release(dataset=dataset, version="1.0.0", enqueue=False)
            datasets.build_release(release_id=release.pk)
            datasets.grant_license(
                licensee=licensee,
                dataset=dataset,
                purposes_allowed=["training", "redistribution"],
                derived_model_action=WithdrawalAction.RETRAIN,
                starts_on=datetime.date(2026, 1, 1),
                releases=[Release.objects.get(pk=release.pk)],
                includes_future_releases=True,
                contract_reference="ACME-DL-2026-001",
            )

    def _licensee(self) -> Licensee:
        licensee = Licensee.objects.filter(slug=DEMO_LICENSEE_SLUG).first()
        if licensee is None:
            licensee = services.register_licensee(
                name="Acme Speech Labs",
                slug=DEMO_LICENSEE_SLUG,
                contact_email="data-licensing@acme.example",
                jurisdiction="US-CA",
            )
        if not DerivedModel.objects.filter(licensee=licensee).exists():
            services.register_derived_model(
                licensee=licensee,
                name="acme-duplex",
                version="1.0",
                withdrawal_action=WithdrawalAction.RETRAIN,
                contract_reference="ACME-DL-2026-001 §7.2",
                description="Full-duplex speech-to-speech model (demo).",
            )
        return licensee

    @transaction.atomic
    def _users(self) -> None:
        user_model = get_user_model()
        view_registry = Permission.objects.filter(
            content_type__app_label="registry", codename__startswith="view_"
        )
        for username, password, superuser in DEMO_USERS:
            user, _ = user_model.objects.get_or_create(username=username)
            user.is_staff = True
            user.is_superuser = superuser
            user.set_password(password)
            user.save()
            if not superuser:
                user.user_permissions.set(view_registry)
                # The demo staff login is a compliance officer (roles: registry 0007).
                user.groups.add(*Group.objects.filter(name="Compliance officer"))
