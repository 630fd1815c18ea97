"""Demo notices and a realistic mix of consent events for `seed_demo` (development only).

Everything goes through the services, so the demo obeys the same rules as production:
recordings are made through pre-call sessions after every participant consented."""

from __future__ import annotations

import hashlib
import random

from django.utils import timezone

from consent import services
from consent.models import (
    ConsentEvent,
    ConsentNotice,
    EvidenceMethod,
    Purpose,
    RecordingSession,
)
from consent.selectors import current_notice
from consent.services import audio
from registry.models import Campaign, Recording, Speaker

# (jurisdiction, language) -> purpose -> (title, body, allows, does not allow)
NOTICE_TEXT: dict[str, dict[str, tuple[str, str, str, str]]] = {
    "en": {
        "recording": (
            "Recording this conversation",
            "We record this call with each person on their own channel. Every participant "
            "is asked before the call starts; the call is recorded only if all agree.",
            "Recording your side of this conversation and storing it securely.",
            "Using the recording for anything else: each other use is a separate question.",
        ),
        "training": (
            "Training our speech models",
            "We would like to use your recorded voice to train our own speech models.",
            "Training in-house models that learn how people talk and take turns.",
            "Sharing your voice with other companies, or identifying you by your voice.",
        ),
        "redistribution": (
            "Licensing to other AI developers",
            "We would like to license your recordings to third parties who train their own "
            "models. Every licensee is named in our published dataset cards.",
            "Licensing the recordings to named third parties for model training.",
            "Cloning your voice or identifying you by your voice.",
        ),
        "biometric": (
            "Voiceprint enrolment",
            "We would like to create a voiceprint from your recordings to recognise your "
            "voice. This is biometric data.",
            "Creating and matching a voiceprint of your voice.",
            "Selling or sharing your voiceprint, or keeping it beyond the schedule below.",
        ),
        "likeness": (
            "Synthetic voice (likeness)",
            "We would like to allow models to generate speech that sounds like you.",
            "Generating synthetic speech in your voice for the uses listed in the card.",
            "Impersonating you, or any use you have not been told about.",
        ),
    },
    "ja": {
        "recording": (
            "この通話の録音について",
            "この通話は参加者ごとに別々のチャンネルで録音します。通話の前に全員に確認し、"
            "全員が同意した場合にのみ録音します。",
            "あなたの側の会話を録音し、安全に保管すること。",
            "それ以外の利用。ほかの利用はそれぞれ別にお尋ねします。",
        ),
        "training": (
            "音声モデルの学習について",
            "録音したあなたの声を当社の音声モデルの学習に使用したいと考えています。",
            "人の話し方や話者交替を学ぶ社内モデルの学習。",
            "他社への提供、または声によるあなたの識別。",
        ),
        "redistribution": (
            "他のAI開発者への提供について",
            "録音を第三者にライセンス提供し、その第三者のモデル学習に使用することを希望します。"
            "提供先はすべて公開するデータセットカードに記載します。",
            "記載された第三者へのモデル学習目的でのライセンス提供。",
            "あなたの声の複製、または声による識別。",
        ),
        "biometric": (
            "声紋の登録について",
            "録音からあなたの声紋を作成し、あなたの声を識別することを希望します。"
            "声紋は個人識別符号にあたります。",
            "あなたの声紋の作成と照合。",
            "声紋の販売・提供、または下記の期間を超えた保管。",
        ),
        "likeness": (
            "合成音声（声の肖像）について",
            "あなたに似た声で音声を生成することをモデルに許可することを希望します。",
            "カードに記載された用途での、あなたの声による合成音声の生成。",
            "なりすまし、または説明されていない用途。",
        ),
    },
    "de": {
        "recording": (
            "Aufzeichnung dieses Gesprächs",
            "Wir zeichnen dieses Gespräch auf, jede Person auf einem eigenen Kanal. Alle "
            "werden vorher gefragt; aufgezeichnet wird nur, wenn alle zustimmen.",
            "Die Aufzeichnung Ihrer Gesprächsseite und ihre sichere Speicherung.",
            "Jede andere Nutzung: dafür fragen wir jeweils gesondert.",
        ),
        "training": (
            "Training unserer Sprachmodelle",
            "Wir möchten Ihre aufgezeichnete Stimme zum Training eigener Sprachmodelle nutzen.",
            "Training eigener Modelle, die lernen, wie Menschen sprechen.",
            "Weitergabe an andere Unternehmen oder Ihre Identifizierung anhand der Stimme.",
        ),
        "redistribution": (
            "Lizenzierung an andere KI-Entwickler",
            "Wir möchten Ihre Aufnahmen an Dritte lizenzieren, die eigene Modelle trainieren.",
            "Lizenzierung an namentlich genannte Dritte zum Modelltraining.",
            "Das Klonen Ihrer Stimme oder Ihre Identifizierung anhand der Stimme.",
        ),
        "biometric": (
            "Erstellung eines Stimmabdrucks",
            "Wir möchten aus Ihren Aufnahmen einen Stimmabdruck erstellen (biometrische "
            "Daten, Art. 9 DSGVO). Dafür brauchen wir Ihre ausdrückliche Einwilligung.",
            "Erstellung und Abgleich eines Stimmabdrucks.",
            "Verkauf oder Weitergabe des Stimmabdrucks.",
        ),
        "likeness": (
            "Synthetische Stimme",
            "Wir möchten Modellen erlauben, Sprache zu erzeugen, die wie Sie klingt.",
            "Erzeugung synthetischer Sprache mit Ihrer Stimme für die genannten Zwecke.",
            "Identitätsdiebstahl oder nicht genannte Zwecke.",
        ),
    },
    "fr": {
        "recording": (
            "Enregistrement de cette conversation",
            "Nous enregistrons cet appel, chaque personne sur son propre canal. Chacun est "
            "consulté avant l'appel ; l'appel n'est enregistré que si tous acceptent.",
            "L'enregistrement de votre côté de la conversation et sa conservation sécurisée.",
            "Toute autre utilisation : chacune fait l'objet d'une question distincte.",
        ),
        "training": (
            "Entraînement de nos modèles vocaux",
            "Nous souhaitons utiliser votre voix enregistrée pour entraîner nos modèles.",
            "L'entraînement de modèles internes qui apprennent comment les gens parlent.",
            "La transmission à d'autres entreprises ou votre identification par la voix.",
        ),
        "redistribution": (
            "Licence à d'autres développeurs d'IA",
            "Nous souhaitons concéder vos enregistrements sous licence à des tiers nommés.",
            "La licence à des tiers nommés pour l'entraînement de modèles.",
            "Le clonage de votre voix ou votre identification par la voix.",
        ),
        "biometric": (
            "Création d'une empreinte vocale",
            "Nous souhaitons créer une empreinte vocale (donnée biométrique, art. 9 RGPD), "
            "ce qui exige votre consentement explicite.",
            "La création et la comparaison d'une empreinte vocale.",
            "La vente ou la transmission de l'empreinte vocale.",
        ),
        "likeness": (
            "Voix de synthèse",
            "Nous souhaitons permettre à des modèles de générer une voix qui ressemble à la vôtre.",
            "La génération de parole synthétique avec votre voix pour les usages annoncés.",
            "L'usurpation d'identité ou tout usage non annoncé.",
        ),
    },
}

RETENTION = {
    "en": "Voiceprints are destroyed when the purpose is met or 3 years after your last "
    "interaction with us, whichever comes first.",
    "ja": "声紋は、目的を達成した時点、または最後のご利用から3年以内の"
    "いずれか早い時点で消去します。",
    "de": "Stimmabdrücke werden gelöscht, sobald der Zweck erfüllt ist, spätestens 3 Jahre "
    "nach Ihrer letzten Interaktion.",
    "fr": "Les empreintes vocales sont supprimées dès que la finalité est atteinte, au plus "
    "tard 3 ans après votre dernière interaction.",
}

NOTICE_PLACES = [("US", "en"), ("EU", "en"), ("EU", "de"), ("EU", "fr"), ("JP", "ja"), ("JP", "en")]


def publish_demo_notices() -> int:
    """Version 1 of every notice family the demo needs; existing families are left alone."""
    published = 0
    for jurisdiction, language in NOTICE_PLACES:
        for purpose in Purpose.values:
            if ConsentNotice.objects.filter(
                purpose=purpose, jurisdiction_id=jurisdiction, language=language
            ).exists():
                continue
            title, body, allows, does_not_allow = NOTICE_TEXT[language][purpose]
            services.publish_notice(
                purpose=purpose,
                jurisdiction=jurisdiction,
                language=language,
                title=title,
                body=body,
                allows=allows,
                does_not_allow=does_not_allow,
                retention_schedule=RETENTION[language] if purpose == Purpose.BIOMETRIC else "",
            )
            published += 1
    return published


def _evidence(speaker: Speaker, rng: random.Random) -> services.Evidence:
    if speaker.jurisdiction in {"DE", "FR"} and rng.random() < 0.3:
        return services.Evidence(
            method=EvidenceMethod.SPOKEN_PHRASE,
            document_sha256=hashlib.sha256(f"phrase-{speaker.public_id}".encode()).hexdigest(),
        )
    return services.Evidence(
        method=EvidenceMethod.WEB_FORM_SIGNED,
        signed_name=speaker.name or "",
        ip_address=f"198.51.100.{rng.randrange(1, 250)}",
        user_agent="Mozilla/5.0 (demo)",
    )


def _act(speaker: Speaker, purpose: str, action: str, rng: random.Random) -> None:
    actor = services.Actor.of_speaker(speaker)
    if action == "withdraw":
        services.withdraw_consent(
            speaker=speaker,
            purpose=purpose,
            actor=actor,
            evidence=services.Evidence(method=EvidenceMethod.WEB_FORM),
        )
        return
    notice = current_notice(speaker=speaker, purpose=purpose)
    act = services.give_consent if action == "give" else services.refuse_consent
    act(
        speaker=speaker,
        purpose=purpose,
        notice=notice,
        actor=actor,
        evidence=_evidence(speaker, rng)
        if action == "give"
        else services.Evidence(method=EvidenceMethod.WEB_FORM),
    )


def seed_consents(speakers: list[Speaker]) -> int:
    """General consents for each speaker (a realistic, deterministic mix)."""
    rng = random.Random(13)
    written = 0
    for speaker in speakers:
        draws = [rng.random() for _ in range(4)]
        if ConsentEvent.objects.filter(speaker=speaker).exists():
            continue
        plan = [
            (Purpose.RECORDING, "give"),
            (Purpose.TRAINING, "give" if draws[0] < 0.9 else "refuse"),
        ]
        if draws[1] < 0.7:
            plan.append((Purpose.REDISTRIBUTION, "give"))
        if draws[2] < 0.4:
            plan.append((Purpose.BIOMETRIC, "give"))
        plan.append((Purpose.LIKENESS, "give" if draws[3] < 0.2 else "refuse"))
        for purpose, action in plan:
            _act(speaker, purpose, action, rng)
            written += 1
    return written


def seed_sessions(
    speakers: list[Speaker],
    pairs: list[tuple[int, int]],
    durations: list[tuple[int, int]],
    campaigns: dict[str, Campaign] | None = None,
) -> int:
    """Record each pair through a pre-call session (all consented, so it clears)."""
    created = 0
    for number, ((first, second), (duration_ms, sample_rate)) in enumerate(
        zip(pairs, durations, strict=True), start=1
    ):
        external_ref = f"demo-call-{number:04d}"
        if Recording.objects.filter(external_ref=external_ref).exists():
            continue
        a, b = speakers[first], speakers[second]
        session = services.create_recording_session(
            external_ref=f"demo-session-{number:04d}",
            jurisdiction=a.jurisdiction,
            language=a.preferred_language,
            speakers=[a, b],
            campaign=(campaigns or {}).get(a.jurisdiction.split("-")[0])
            or (campaigns or {}).get("*"),
        )
        recording = services.start_recording(
            session=session,
            external_ref=external_ref,
            duration_ms=duration_ms,
            sample_rate_hz=sample_rate,
            isolated_at_source=number % 10 != 0,
            recorded_at=timezone.now(),
        )
        if number % 6 != 0:  # a few are still waiting for their audio upload
            # Stand-in bytes in the "audio" storage: the mixed file and each channel on
            # its own, so a withdrawal of recording consent visibly destroys them.
            audio.store_recording_audio(
                recording=recording, content=f"demo mixed audio {external_ref}".encode()
            )
            for track in recording.tracks.all():
                audio.store_track_audio(
                    track=track, content=f"demo channel {track.channel} {external_ref}".encode()
                )
        created += 1
    return created


def seed_open_sessions(*, consenting: Speaker, invited: list[Speaker]) -> None:
    """Two sessions still waiting for someone: in the first, one invitee has consented
    to being recorded on that call and the other has not; in the second, a speaker with
    standing recording consent waits for the same undecided invitee."""
    first, undecided = invited
    for ref, speakers in (
        ("demo-open-session-1", [first, undecided]),
        ("demo-open-session-2", [consenting, undecided]),
    ):
        if RecordingSession.objects.filter(external_ref=ref).exists():
            continue
        session = services.create_recording_session(
            external_ref=ref,
            jurisdiction=speakers[0].jurisdiction,
            language=speakers[0].preferred_language,
            speakers=speakers,
        )
        if first in speakers:
            services.give_consent(
                speaker=first,
                purpose=Purpose.RECORDING,
                notice=current_notice(speaker=first, purpose=Purpose.RECORDING),
                evidence=services.Evidence(
                    method=EvidenceMethod.WEB_FORM_SIGNED, signed_name=first.name or ""
                ),
                actor=services.Actor.of_speaker(first),
                session=session,
            )


def seed_withdrawals(speakers: list[Speaker]) -> None:
    """After the calls, a few people change their minds (this fills the outbox)."""
    rng = random.Random(29)
    for index, purpose in (
        (2, Purpose.TRAINING),
        (9, Purpose.TRAINING),
        (14, Purpose.REDISTRIBUTION),
    ):
        _act(speakers[index], purpose, "withdraw", rng)
