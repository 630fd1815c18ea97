"""What the portal says, translatable: purpose names, consequences, error messages.

Domain errors carry an English ``detail`` for logs and the API; speakers read the
translated sentence for the error's ``code`` instead."""

from __future__ import annotations

from django.utils import formats
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from consent.models import ConsentAction, ConsentState, Purpose
from consent.services.biometrics import VoiceprintDestruction
from registry.errors import RegistryError

PURPOSE_TITLE: dict[str, Promise] = {
    Purpose.RECORDING: _("Recording"),
    Purpose.TRAINING: _("Training our models"),
    Purpose.REDISTRIBUTION: _("Licensing to other developers"),
    Purpose.BIOMETRIC: _("Voiceprint (biometric)"),
    Purpose.LIKENESS: _("Synthetic voice (likeness)"),
}

PURPOSE_QUESTION: dict[str, Promise] = {
    Purpose.RECORDING: _("May we record your side of conversations?"),
    Purpose.TRAINING: _("May we train our own speech models on your voice?"),
    Purpose.REDISTRIBUTION: _("May we license your recordings to other AI developers?"),
    Purpose.BIOMETRIC: _("May we create a voiceprint that recognises your voice?"),
    Purpose.LIKENESS: _("May models generate speech that sounds like you?"),
}

STATE_LABEL: dict[str, Promise] = {
    ConsentState.REQUESTED: _("Asked, not answered"),
    ConsentState.GIVEN: _("Given"),
    ConsentState.RENEWED: _("Given (renewed)"),
    ConsentState.REFUSED: _("Refused"),
    ConsentState.WITHDRAWN: _("Withdrawn"),
    ConsentState.EXPIRED: _("Expired"),
}

NOT_ASKED = _("Not given")

ACTION_LABEL: dict[str, Promise] = {
    ConsentAction.REQUEST: _("Asked"),
    ConsentAction.GIVE: _("Gave"),
    ConsentAction.RENEW: _("Renewed"),
    ConsentAction.REFUSE: _("Refused"),
    ConsentAction.WITHDRAW: _("Withdrew"),
    ConsentAction.EXPIRE: _("Expired"),
}

WITHDRAWAL_CONSEQUENCES: list[Promise] = [
    _("Future use stops now: no new release, model or licence may use your voice for this."),
    _(
        "Dataset releases that already contain your recordings are marked, and the recordings "
        "are listed for removal."
    ),
    _("Licensees holding those releases are notified and must acknowledge."),
    _("Models trained on them are flagged and retrained or filtered, as their contracts require."),
    _("What you have already earned is not taken back."),
]

ERROR_MESSAGE: dict[str, Promise] = {
    "notice_not_current": _(
        "The notice changed while you were reading it. Please read the new version."
    ),
    "notice_unavailable": _("This consent cannot be asked online in your language yet."),
    "notice_wrong_purpose": _(
        "This notice is about another consent than the one you were giving. Nothing was "
        "recorded: please give this consent from its own page."
    ),
    "notice_wrong_language": _("The law where you live requires the notice in your language."),
    "age_not_verified": _("Please confirm your age first."),
    "below_minimum_age": _(
        "Sorry, you are below the minimum age for taking part where you or the call are."
    ),
    "evidence_not_allowed": _(
        "The law where you live needs another form of consent for this (for example a "
        "signed form). Please contact us."
    ),
    "evidence_incomplete": _("Please type your full name to sign."),
    "consent_already_given": _("You have already given this consent."),
    "speaker_erased": _("Your data was erased."),
    "session_not_open": _("This call is no longer waiting for consent."),
    "invitation_invalid": _("This invitation link is not valid."),
    "invitation_expired": _("This invitation has expired. Ask for a new link."),
    "sign_in_link_invalid": _(
        "This sign-in link is not valid, was already used or has expired. Request a new one."
    ),
    "invalid_input": _("Please check what you entered."),
    "erasure_in_progress": _(
        "You asked us to erase your data, so nothing new can be given or recorded."
    ),
    "age_already_verified": _("Your age is already confirmed."),
    "date_of_birth_implausible": _(
        "Please enter your real date of birth: it cannot be in the future or before 1900."
    ),
    "age_contradicts_attestation": _(
        "This date of birth does not match the age we were told. Please contact us."
    ),
    "under_age_on_record": _(
        "An earlier answer showed you are below the minimum age, so you cannot take part "
        "by entering another date of birth."
    ),
    "invitation_closed": _("This invitation is closed: you can no longer take part in this call."),
    "act_before_request": _("This consent is dated before you were asked for it."),
    "notice_not_yet_published": _("This consent is dated before its notice was published."),
    "jurisdiction_not_supported": _("We cannot ask for this consent where you live yet."),
}


def error_message(error: RegistryError) -> str:
    return str(ERROR_MESSAGE.get(error.code, _("That did not work. Nothing was changed.")))


def voiceprint_destruction(destruction: VoiceprintDestruction) -> str:
    """The confirmation of a biometric withdrawal: which voiceprints go, and by when."""
    by = (
        formats.date_format(destruction.destroyed_by, "Y-m-d H:i")
        if destruction.destroyed_by
        else ""
    )
    return ngettext(
        "Your voiceprint is being destroyed and is gone by %(by)s (UTC) at the latest.",
        "Your %(n)s voiceprints are being destroyed and are gone by %(by)s (UTC) at the latest.",
        destruction.templates,
    ) % {"n": destruction.templates, "by": by}
