"""The speaker portal: sign-in, the five consents, pre-call consent, history and
receipts, recordings, earnings, data rights. Thin: forms check shape, services decide.

Every page works without JavaScript; every state change is a POST with a CSRF token.
"""

from __future__ import annotations

import datetime
import io
import json
from collections.abc import Callable
from functools import wraps
from typing import Any, Literal, cast

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import authenticate, login, logout
from django.core.paginator import Paginator
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    HttpResponseBase,
    JsonResponse,
    StreamingHttpResponse,
)
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views import i18n
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_ratelimit.core import is_ratelimited

from compensation.selectors import statement
from compensation.statements import statement_csv, statement_pdf
from consent import services as consent_services
from consent.errors import InvitationClosed
from consent.models import ActorKind, ConsentNotice, EvidenceMethod, Purpose
from consent.receipts import receipt_pdf, signed_receipt, verify_receipt
from consent.selectors import session_clearance
from consent.services import Actor, Evidence
from consent.services.checks import UI_LANGUAGE
from registry import pii
from registry.errors import NotFound, RegistryError
from registry.forms import posted
from registry.models import Speaker
from speakers import forms, selectors, services, wording
from speakers.models import LinkIssuer

ViewFunc = Callable[..., HttpResponseBase]
SameSite = Literal["Lax", "Strict", "None"] | None


def _ui_language() -> str:
    """The language this response is in: the portal and the invitation page activate
    one offered to the speaker (``_speak``) before anything is read or recorded."""
    return translation.get_language() or settings.LANGUAGE_CODE


def _chosen_language(request: HttpRequest) -> str | None:
    """The language picked with the switcher (Django's cookie), not the browser's."""
    return request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)


def _speak(request: HttpRequest, speaker: Speaker, language: str) -> None:
    """Answer in ``language``; the layout's switcher offers the speaker's languages."""
    translation.activate(language)
    request.LANGUAGE_CODE = language
    request.offered_languages = selectors.speaker_languages(speaker=speaker)  # type: ignore[attr-defined]


def _evidence(request: HttpRequest, method: str, signed_name: str = "") -> Evidence:
    return Evidence(
        method=method,
        signed_name=signed_name,
        ip_address=request.META.get("REMOTE_ADDR", ""),
        user_agent=request.META.get("HTTP_USER_AGENT", "")[:500],
        extra={UI_LANGUAGE: _ui_language()},
    )


def speaker_required(view: ViewFunc) -> ViewFunc:
    """Only a signed-in speaker (not staff, not an erased speaker) gets past."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        speaker = selectors.speaker_of(request.user)
        if speaker is None:
            return redirect(f"{reverse('speakers:sign-in')}?next={request.path}")
        request.speaker = speaker  # type: ignore[attr-defined]
        _speak(
            request,
            speaker,
            selectors.portal_language(speaker=speaker, chosen=_chosen_language(request)),
        )
        try:
            return view(request, *args, **kwargs)
        except NotFound as exc:
            raise Http404(exc.detail) from exc

    return never_cache(wrapped)


ASSISTED_LINK_KEY = "speakers.assisted_link"


def _actor(request: HttpRequest, speaker: Speaker) -> Actor:
    """The speaker, marked (in the hash-chained event) when the session began from a
    link staff issued, so an assisted act can always be told from an unassisted one."""
    link_id = request.session.get(ASSISTED_LINK_KEY)
    if link_id:
        return Actor(ActorKind.SPEAKER, f"{speaker.public_id} assisted-link:{link_id}")
    return Actor.of_speaker(speaker)


def _speaker(request: HttpRequest) -> Speaker:
    return request.speaker  # type: ignore[attr-defined]


def rate_limited(request: HttpRequest, exception: Exception) -> HttpResponse:
    return render(request, "speakers/rate_limited.html", status=429)


def _sign_in_limited(request: HttpRequest, email: str) -> bool:
    """Count this attempt per client address and per email address asked about."""
    per_ip = is_ratelimited(
        request,
        group="speakers.sign-in",
        key="ip",
        rate=settings.SIGN_IN_RATE_PER_IP,
        increment=True,
    )
    per_email = is_ratelimited(
        request,
        group="speakers.sign-in-email",
        key=lambda group, req: pii.email_blind_index(email) if email else "none",
        rate=settings.SIGN_IN_RATE_PER_EMAIL,
        increment=True,
    )
    return per_ip or per_email


def _safe_next(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    return (
        target
        if target.startswith("/me/") and "//" not in target
        else reverse("speakers:dashboard")
    )


def _start_session(request: HttpRequest, account: Any) -> None:
    login(request, account.user, backend="speakers.backends.SpeakerEmailBackend")


def _language_redirect(response: HttpResponse, speaker: Speaker) -> HttpResponse:
    """Open the portal in the speaker's own language, whatever the browser (or the last
    person on this computer) chose: the cookie is the switcher's, so it is reset here."""
    _set_language_cookie(response, selectors.portal_language(speaker=speaker))
    return response


def _set_language_cookie(response: HttpResponseBase, language: str) -> None:
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME,
        language,
        max_age=settings.LANGUAGE_COOKIE_AGE,
        path=settings.LANGUAGE_COOKIE_PATH,
        domain=settings.LANGUAGE_COOKIE_DOMAIN,
        secure=settings.LANGUAGE_COOKIE_SECURE,
        httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
        samesite=cast(SameSite, settings.LANGUAGE_COOKIE_SAMESITE),
    )


@require_POST
def choose_language(request: HttpRequest) -> HttpResponseBase:
    """The language switcher. Django's ``set_language`` sets the cookie and checks the
    return address; a signed-in speaker's choice also becomes their preferred language
    (emails and the next sign-in follow it), and only a language offered to them is
    accepted."""
    speaker = selectors.speaker_of(request.user)
    if speaker is None:
        return i18n.set_language(request)
    try:
        services.set_preferred_language(speaker=speaker, language=request.POST.get("language", ""))
    except RegistryError:
        _speak(
            request,
            speaker,
            selectors.portal_language(speaker=speaker, chosen=_chosen_language(request)),
        )
        messages.error(request, _("This language is not offered where you live."))
        return redirect(_safe_next(request))
    return i18n.set_language(request)


# --- Sign-in -------------------------------------------------------------------------


@never_cache
@require_http_methods(["GET", "POST"])
def sign_in(request: HttpRequest) -> HttpResponse:
    link_form = forms.EmailLinkForm(prefix="link")
    password_form = forms.PasswordSignInForm(prefix="pw")
    status = 200
    if request.method == "POST":
        password_form = forms.PasswordSignInForm(posted(request), prefix="pw")
        if password_form.is_valid():
            email = password_form.cleaned_data["email"]
            if _sign_in_limited(request, email):
                return rate_limited(request, Exception())
            user = authenticate(
                request, email=email, password=password_form.cleaned_data["password"]
            )
            speaker = selectors.speaker_of(user) if user is not None else None
            if user is not None and speaker is not None:
                login(request, user, backend="speakers.backends.SpeakerEmailBackend")
                return _language_redirect(redirect(_safe_next(request)), speaker)
            password_form.add_error(None, _("That email and password do not match."))
        status = 400
    return render(
        request,
        "speakers/sign_in.html",
        {"link_form": link_form, "password_form": password_form, "next": _safe_next(request)},
        status=status,
    )


@never_cache
@require_POST
def request_link(request: HttpRequest) -> HttpResponse:
    form = forms.EmailLinkForm(posted(request), prefix="link")
    if not form.is_valid():
        return render(
            request,
            "speakers/sign_in.html",
            {"link_form": form, "password_form": forms.PasswordSignInForm(prefix="pw")},
            status=400,
        )
    email = form.cleaned_data["email"]
    if _sign_in_limited(request, email):
        return rate_limited(request, Exception())
    services.request_sign_in_link(email=email)
    return render(request, "speakers/link_sent.html")


@never_cache
@require_http_methods(["GET", "POST"])
def redeem_link(request: HttpRequest, token: str) -> HttpResponse:
    """GET only shows a button: mail scanners that fetch links must not use them up."""
    if request.method == "GET":
        return render(request, "speakers/redeem_link.html", {"form": forms.ConfirmForm()})
    if is_ratelimited(
        request,
        group="speakers.redeem",
        key="ip",
        rate=settings.SIGN_IN_RATE_PER_IP,
        increment=True,
    ):
        return rate_limited(request, Exception())
    form = forms.ConfirmForm(posted(request))
    if not form.is_valid():
        # A forged or tampered POST: the link is kept for the real button.
        return render(request, "speakers/redeem_link.html", {"form": form}, status=400)
    try:
        redeemed = services.redeem_sign_in_link(token=token)
    except RegistryError as exc:
        return render(
            request, "speakers/redeem_link.html", {"error": wording.error_message(exc)}, status=403
        )
    _start_session(request, redeemed.account)
    if redeemed.link.issued_by == LinkIssuer.STAFF:
        # Assisted enrolment: every act in this session names the link staff issued.
        request.session[ASSISTED_LINK_KEY] = redeemed.link.pk
    return _language_redirect(redirect("speakers:dashboard"), redeemed.account.speaker)


@require_POST
def sign_out(request: HttpRequest) -> HttpResponse:
    logout(request)
    messages.info(request, _("You are signed out."))
    return redirect("speakers:sign-in")


# --- Consents ------------------------------------------------------------------------


def _purpose_or_404(purpose: str) -> str:
    if purpose not in Purpose.values:
        raise Http404("no such purpose")
    return purpose


@speaker_required
@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    speaker = _speaker(request)
    return render(
        request,
        "speakers/dashboard.html",
        {
            "cards": selectors.consent_cards(speaker=speaker, language=_ui_language()),
            "speaker": speaker,
        },
    )


@speaker_required
@require_http_methods(["GET", "POST"])
def give(request: HttpRequest, purpose: str) -> HttpResponse:
    speaker = _speaker(request)
    card = selectors.consent_card(
        speaker=speaker, purpose=_purpose_or_404(purpose), language=_ui_language()
    )
    if card.in_force and not card.needs_reconsent:
        messages.info(request, _("You have already given this consent."))
        return redirect("speakers:dashboard")
    form = forms.GiveConsentForm(
        posted(request),
        written=card.written,
        initial={"notice": card.notice.public_id if card.notice else None},
    )
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid() and _act_from_form(
            request,
            form,
            card=card,
            speaker=speaker,
            actor=_actor(request, speaker),
            renew=card.consent is not None and card.in_force and card.needs_reconsent,
        ):
            messages.success(
                request,
                _("You gave consent: %(purpose)s. Your signed receipt is in your history.")
                % {"purpose": wording.PURPOSE_TITLE[purpose]},
            )
            return redirect("speakers:dashboard")
    return render(request, "speakers/give.html", {"card": card, "form": form}, status=status)


def _act_from_form(
    request: HttpRequest,
    form: forms.GiveConsentForm,
    *,
    card: selectors.ConsentCard,
    speaker: Speaker,
    actor: Actor,
    renew: bool = False,
    session: Any = None,
) -> bool:
    """Give (or renew) the card's purpose under the notice the (valid) form names; a
    refusal becomes the form's error. The dashboard and the invitation page share it."""
    if card.evidence_method is None:
        return False
    notice = ConsentNotice.objects.filter(public_id=form.cleaned_data["notice"]).first()
    act = consent_services.renew_consent if renew else consent_services.give_consent
    try:
        if notice is None:
            raise NotFound("no such notice")
        act(
            speaker=speaker,
            purpose=card.purpose,
            notice=notice,
            evidence=_evidence(
                request, card.evidence_method, form.cleaned_data.get("signed_name", "")
            ),
            actor=actor,
            session=session,
        )
    except RegistryError as exc:
        form.add_error(None, wording.error_message(exc))
        return False
    return True


@speaker_required
@require_http_methods(["GET", "POST"])
def withdraw(request: HttpRequest, purpose: str) -> HttpResponse:
    speaker = _speaker(request)
    card = selectors.consent_card(
        speaker=speaker, purpose=_purpose_or_404(purpose), language=_ui_language()
    )
    form = forms.ConfirmForm(posted(request))
    if request.method == "POST" and form.is_valid():
        if not card.can_withdraw:
            messages.info(request, _("This consent is not in force: there is nothing to withdraw."))
            return redirect("speakers:dashboard")
        try:
            consent_services.withdraw_consent(
                speaker=speaker,
                purpose=purpose,
                evidence=_evidence(request, EvidenceMethod.WEB_FORM),
                actor=_actor(request, speaker),
            )
        except RegistryError as exc:
            messages.error(request, wording.error_message(exc))
        else:
            messages.success(
                request,
                _(
                    "You withdrew consent: %(purpose)s. We are carrying it to every release, "
                    "licensee and model."
                )
                % {"purpose": wording.PURPOSE_TITLE[purpose]},
            )
            if card.voiceprints and card.voiceprints.destroyed_by:
                # The confirmation repeats what the withdraw page promised, with the deadline
                # the withdrawal's plan keeps (consent.services.biometrics).
                messages.success(request, wording.voiceprint_destruction(card.voiceprints))
        return redirect("speakers:dashboard")
    return render(
        request,
        "speakers/withdraw.html",
        {
            "card": card,
            "form": form,
            "consequences": wording.WITHDRAWAL_CONSEQUENCES,
        },
        status=400 if request.method == "POST" else 200,
    )


# --- History and receipts ------------------------------------------------------------


@speaker_required
@require_GET
def history(request: HttpRequest) -> HttpResponse:
    page = Paginator(selectors.speaker_events(speaker=_speaker(request)), 50).get_page(
        request.GET.get("page")
    )
    return render(request, "speakers/history.html", {"page": page})


@speaker_required
@require_GET
def receipt_json(request: HttpRequest, event_id: str) -> HttpResponse:
    event = selectors.get_event_for_speaker(speaker=_speaker(request), public_id=event_id)
    response = JsonResponse(signed_receipt(event), json_dumps_params={"ensure_ascii": False})
    response["Content-Disposition"] = f'attachment; filename="receipt-{event.public_id}.json"'
    return response


@speaker_required
@require_GET
def receipt_pdf_view(request: HttpRequest, event_id: str) -> HttpResponse:
    event = selectors.get_event_for_speaker(speaker=_speaker(request), public_id=event_id)
    response = HttpResponse(receipt_pdf(event), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="receipt-{event.public_id}.pdf"'
    return response


@require_http_methods(["GET", "POST"])
def verify(request: HttpRequest) -> HttpResponse:
    """Public: how to check a receipt's signature, and a form that checks one."""
    form = forms.VerifyReceiptForm(posted(request))
    result = None
    if request.method == "POST" and form.is_valid():
        result = verify_receipt(form.cleaned_data["receipt"])
    return render(
        request,
        "speakers/verify.html",
        {"form": form, "result": result, "jwks_url": reverse("jwks")},
        status=400 if request.method == "POST" and not form.is_valid() else 200,
    )


# --- Recordings, earnings, data rights ------------------------------------------------


@speaker_required
@require_GET
def recordings(request: HttpRequest) -> HttpResponse:
    speaker = _speaker(request)
    return render(
        request,
        "speakers/recordings.html",
        {
            "rows": selectors.speaker_recordings(speaker=speaker),
            "withdrawals": selectors.withdrawal_statuses(speaker=speaker),
            "purposes": Purpose.values,
        },
    )


@speaker_required
@require_GET
def recording_detail(request: HttpRequest, recording_id: str) -> HttpResponse:
    row = selectors.get_recording_for_speaker(speaker=_speaker(request), public_id=recording_id)
    return render(request, "speakers/recording.html", {"row": row, "purposes": Purpose.values})


Period = tuple[datetime.datetime | None, datetime.datetime | None]


def _period(form: forms.PeriodForm) -> Period:
    """The statement period the (valid) form asks for; all time without a month."""
    if not form.cleaned_data.get("month"):
        return None, None
    year, month = (int(part) for part in form.cleaned_data["month"].split("-"))
    start = datetime.datetime(year, month, 1, tzinfo=datetime.UTC)
    end = datetime.datetime(year + month // 12, month % 12 + 1, 1, tzinfo=datetime.UTC)
    return start, end


@speaker_required
@require_GET
def earnings(request: HttpRequest) -> HttpResponse:
    speaker = _speaker(request)
    form = forms.PeriodForm(request.GET)
    valid = form.is_valid()
    start, end = _period(form) if valid else (None, None)
    return render(
        request,
        "speakers/earnings.html",
        {
            "summary": selectors.earnings_summary(speaker=speaker),
            "statement": statement(speaker=speaker, start=start, end=end),
            "period_form": form,
            "query": request.GET.urlencode() if valid else "",
        },
        status=200 if valid else 400,
    )


def _statement_period(request: HttpRequest) -> Period | None:
    form = forms.PeriodForm(request.GET)
    return _period(form) if form.is_valid() else None


@speaker_required
@require_GET
def statement_csv_view(request: HttpRequest) -> HttpResponseBase:
    period = _statement_period(request)
    if period is None:
        return HttpResponseBadRequest(_("Give a month between 2000-01 and 2999-12."))
    response = StreamingHttpResponse(
        statement_csv(statement(speaker=_speaker(request), start=period[0], end=period[1])),
        content_type="text/csv; charset=utf-8",
    )
    response["Content-Disposition"] = 'attachment; filename="earnings-statement.csv"'
    return response


@speaker_required
@require_GET
def statement_pdf_view(request: HttpRequest) -> HttpResponse:
    period = _statement_period(request)
    if period is None:
        return HttpResponseBadRequest(_("Give a month between 2000-01 and 2999-12."))
    response = HttpResponse(
        statement_pdf(
            statement(speaker=_speaker(request), start=period[0], end=period[1]),
            language=_ui_language(),
        ),
        content_type="application/pdf",
    )
    response["Content-Disposition"] = 'attachment; filename="earnings-statement.pdf"'
    return response


@speaker_required
@require_GET
def my_data(request: HttpRequest) -> HttpResponse:
    speaker = _speaker(request)
    return render(
        request,
        "speakers/data.html",
        {"erasures": selectors.erasure_statuses(speaker=speaker), "form": forms.ErasureForm()},
    )


@speaker_required
@require_GET
def data_export(request: HttpRequest) -> FileResponse:
    document = selectors.speaker_data_export(speaker=_speaker(request))
    body = json.dumps(document, ensure_ascii=False, indent=2).encode()
    stamp = timezone.now().strftime("%Y%m%d")
    return FileResponse(
        io.BytesIO(body),
        as_attachment=True,
        filename=f"my-voice-data-{stamp}.json",
        content_type="application/json",
    )


@speaker_required
@require_http_methods(["GET", "POST"])
def erasure(request: HttpRequest) -> HttpResponse:
    speaker = _speaker(request)
    form = forms.ErasureForm(posted(request))
    if request.method == "POST" and form.is_valid():
        consent_services.request_erasure(
            speaker=speaker,
            evidence=_evidence(request, EvidenceMethod.WEB_FORM),
            actor=_actor(request, speaker),
        )
        messages.success(
            request, _("Your erasure request is recorded. You can follow it on this page.")
        )
        return redirect("speakers:data")
    return render(
        request,
        "speakers/erasure.html",
        {"form": form},
        status=400 if request.method == "POST" else 200,
    )


@speaker_required
@require_http_methods(["GET", "POST"])
def password(request: HttpRequest) -> HttpResponse:
    account = services.ensure_account(speaker=_speaker(request))
    form = forms.NewPasswordForm(posted(request))
    if request.method == "POST" and form.is_valid():
        try:
            services.set_speaker_password(account=account, password=form.cleaned_data["password1"])
        except RegistryError as exc:
            form.add_error("password1", exc.detail)
        else:
            _start_session(request, account)  # keeps this session valid after the change
            messages.success(request, _("Your password is set."))
            return redirect("speakers:dashboard")
    return render(
        request,
        "speakers/password.html",
        {"form": form},
        status=400 if request.method == "POST" else 200,
    )


# --- Pre-call consent ------------------------------------------------------------------


def invitation_required(view: ViewFunc) -> ViewFunc:
    """Resolve the invitation link to its participant (signed, unexpired, session still
    open) or answer with the reason; the view receives the participant."""

    @wraps(view)
    def wrapped(request: HttpRequest, token: str, *args: Any, **kwargs: Any) -> HttpResponseBase:
        try:
            participant = consent_services.participant_from_invitation(token)
        except RegistryError as exc:
            if (known := getattr(exc, "participant", None)) is not None:
                _speak_to_invitee(request, known)
            return _invitation_refused(request, exc)
        _speak_to_invitee(request, participant)
        # The switcher returns to the page itself, not to a form's POST-only address.
        request.language_next = reverse("speakers:invitation", args=[token])  # type: ignore[attr-defined]
        return view(request, token, participant, *args, **kwargs)

    return never_cache(wrapped)


def _speak_to_invitee(request: HttpRequest, participant: Any) -> None:
    _speak(
        request,
        participant.speaker,
        selectors.invitation_language(
            speaker=participant.speaker,
            session_language=participant.session.language,
            chosen=_chosen_language(request),
        ),
    )


def _invitation_refused(request: HttpRequest, exc: RegistryError) -> HttpResponse:
    """The page for a link that cannot be used: closed for good, expired, forged."""
    if isinstance(exc, InvitationClosed):
        # Closed for good (under age, erased): no form, no button, only the reason.
        return render(
            request,
            "speakers/invitation_closed.html",
            {"reason": exc.reason, "error": wording.error_message(exc)},
            status=exc.status,
        )
    return render(
        request,
        "speakers/invitation_error.html",
        {"error": wording.error_message(exc)},
        status=exc.status if exc.status in (403, 404, 409) else 403,
    )


@invitation_required
@require_GET
def invitation(request: HttpRequest, token: str, participant: Any) -> HttpResponse:
    return _invitation_page(request, token, participant)


def _invitation_page(
    request: HttpRequest,
    token: str,
    participant: Any,
    *,
    age_form: forms.DateOfBirthForm | None = None,
    consent_form: forms.GiveConsentForm | None = None,
    status: int = 200,
) -> HttpResponse:
    speaker = participant.speaker
    session = participant.session
    language = _ui_language()
    clearance = session_clearance(session)
    own = next(p for p in clearance if p.channel == participant.channel)
    cards = {
        purpose: selectors.consent_card(speaker=speaker, purpose=purpose, language=language)
        for purpose in Purpose.values
    }
    recording = cards[Purpose.RECORDING]
    for_this_call = _given_for_call(participant)
    others = [
        {"purpose": p, "card": cards[p], "given": p in for_this_call}
        for p in Purpose.values
        if p != Purpose.RECORDING
    ]
    return render(
        request,
        "speakers/invitation.html",
        {
            "token": token,
            "participant": participant,
            "session": session,
            "clearance": clearance,
            "own": own,
            "cleared": bool(clearance) and all(p.consented for p in clearance),
            "blocked": any(p.blocked for p in clearance),
            "age_verified": speaker.age_verification_method != "unverified",
            "age_form": age_form or forms.DateOfBirthForm(),
            "recording_card": recording,
            "consent_form": consent_form
            or forms.GiveConsentForm(
                written=recording.written,
                initial={"notice": recording.notice.public_id if recording.notice else None},
            ),
            "others": others,
            "recording_for_this_call": Purpose.RECORDING in for_this_call,
        },
        status=status,
    )


def _given_for_call(participant: Any) -> set[str]:
    """Purposes the participant consented to for this call only, in force now."""
    now = timezone.now()
    return {
        consent.purpose
        for consent in participant.session.consents.filter(speaker=participant.speaker)
        if consent.in_force_at(now)
    }


@invitation_required
@require_POST
def invitation_withdraw(
    request: HttpRequest, token: str, participant: Any, purpose: str
) -> HttpResponse:
    """Withdraw one purpose for this call, from the same page and in one click, just as
    it was given (standing consents are withdrawn from the dashboard)."""
    purpose = _purpose_or_404(purpose)
    confirm = forms.ConfirmForm(posted(request))
    if not confirm.is_valid():
        for error in confirm.non_field_errors():
            messages.error(request, str(error))
        return _invitation_page(request, token, participant, status=400)
    if purpose not in _given_for_call(participant):
        messages.info(request, _("This consent is not in force: there is nothing to withdraw."))
        return redirect("speakers:invitation", token=token)
    try:
        consent_services.withdraw_consent(
            speaker=participant.speaker,
            purpose=purpose,
            evidence=_evidence(request, EvidenceMethod.WEB_FORM),
            actor=Actor.of_speaker(participant.speaker),
            session=participant.session,
        )
    except RegistryError as exc:
        messages.error(request, wording.error_message(exc))
    else:
        messages.success(
            request,
            _("Withdrawn for this call: %(purpose)s.")
            % {"purpose": wording.PURPOSE_TITLE[purpose]},
        )
    return redirect("speakers:invitation", token=token)


# Age answers per invitation link: enough for a typing error, too few to probe for
# the date that passes.
INVITATION_AGE_RATE = "5/h"


@invitation_required
@require_POST
def invitation_age(request: HttpRequest, token: str, participant: Any) -> HttpResponse:
    if is_ratelimited(
        request,
        group="speakers.invitation-age",
        key=lambda group, req: str(participant.public_id),
        rate=INVITATION_AGE_RATE,
        increment=True,
    ):
        return render(request, "speakers/invitation_rate_limited.html", status=429)
    form = forms.DateOfBirthForm(posted(request))
    if form.is_valid():
        try:
            consent_services.verify_participant_age(
                participant=participant,
                date_of_birth=form.cleaned_data["date_of_birth"],
                evidence=_evidence(request, EvidenceMethod.WEB_FORM),
            )
        except RegistryError as exc:
            if exc.code == "age_already_verified":
                return redirect("speakers:invitation", token=token)
            if exc.code in ("below_minimum_age", "under_age_on_record"):
                return render(
                    request,
                    "speakers/invitation_refused.html",
                    {"error": wording.error_message(exc)},
                    status=403,
                )
            form.add_error("date_of_birth", wording.error_message(exc))
        else:
            return redirect("speakers:invitation", token=token)
    return _invitation_page(request, token, participant, age_form=form, status=400)


@invitation_required
@require_POST
def invitation_consent(
    request: HttpRequest, token: str, participant: Any, purpose: str
) -> HttpResponse:
    """Give one purpose for this call; recording first, the others each on their own."""
    purpose = _purpose_or_404(purpose)
    speaker = participant.speaker
    card = selectors.consent_card(speaker=speaker, purpose=purpose, language=_ui_language())
    form = forms.GiveConsentForm(posted(request), written=card.written)
    if (
        form.is_valid()
        and card.evidence_method is not None
        and _act_from_form(
            request,
            form,
            card=card,
            speaker=speaker,
            actor=Actor.of_speaker(speaker),
            session=participant.session,
        )
    ):
        messages.success(
            request,
            _("Thank you. Your consent for this call is recorded: %(purpose)s.")
            % {"purpose": wording.PURPOSE_TITLE[purpose]},
        )
        return redirect("speakers:invitation", token=token)
    elif card.evidence_method is None:
        form.add_error(None, str(wording.ERROR_MESSAGE["evidence_not_allowed"]))
    if purpose != Purpose.RECORDING:
        # The optional purposes have no form of their own on the page: say it above it.
        for error in form.non_field_errors() or [_("Please check what you entered.")]:
            messages.error(request, str(error))
    return _invitation_page(
        request,
        token,
        participant,
        consent_form=form if purpose == Purpose.RECORDING else None,
        status=400,
    )
