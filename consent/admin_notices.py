"""Notices in the admin.

Notices are never added, changed or deleted here (their text is the evidence of what a
speaker agreed to, and a trigger freezes it once served): staff with
``consent.publish_notice`` publish the next version through ``publish_notice`` after a
preview of who must be asked again, and staff with ``consent.retire_notice`` retire one
through ``retire_active_notice``."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.core.validators import RegexValidator
from django.db.models import Count, Max, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.http import urlencode

from consent.errors import ConsentError
from consent.models import (
    VALID_STATES,
    Consent,
    ConsentNotice,
    Jurisdiction,
    NoticeStatus,
    Purpose,
)
from consent.rules import jurisdiction_chain, requirements_for
from consent.selectors import consents_needing_reconsent
from consent.services.notices import notice_text_sha256, publish_notice, retire_active_notice
from registry.admin import ReadOnlyAdmin
from registry.errors import RegistryError
from registry.forms import StrictForm, posted
from registry.models import LANGUAGE_RE

TEXT_FIELDS = ("title", "body", "allows", "does_not_allow", "retention_schedule")
# The notice page lists this many of the consents to renew; the Consent list has them all.
AFFECTED_SHOWN = 50


def notice_family(*, purpose: str, jurisdiction: str, language: str) -> QuerySet[ConsentNotice]:
    """Every version of one notice: the same purpose, jurisdiction and language."""
    return ConsentNotice.objects.filter(
        purpose=purpose, jurisdiction_id=jurisdiction, language=language
    ).order_by("-version")


def family_of(notice: ConsentNotice) -> QuerySet[ConsentNotice]:
    return notice_family(
        purpose=notice.purpose, jurisdiction=notice.jurisdiction_id, language=notice.language
    )


def served_version(family: QuerySet[ConsentNotice]) -> ConsentNotice | None:
    """The version speakers are served: the newest active one (as ``current_notice``)."""
    return family.filter(status=NoticeStatus.ACTIVE).first()


class JurisdictionChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.code} – {obj.name}"


class PublishNoticeForm(StrictForm):
    """The shape of a new version; ``publish_notice`` remains the judge of what it takes."""

    # The preview's buttons and the version it showed (publish_preview.html).
    accepted_names = frozenset({"_preview", "_publish", "_edit", "expected_version"})

    purpose = forms.ChoiceField(choices=Purpose.choices)
    jurisdiction = JurisdictionChoice(
        queryset=Jurisdiction.objects.order_by("code"), to_field_name="code"
    )
    language = forms.CharField(
        max_length=35,
        validators=[RegexValidator(LANGUAGE_RE, "language must be a BCP 47 tag such as en or ja")],
        help_text="BCP 47 tag of the text's language: en, ja, de, pt-BR…",
    )
    title = forms.CharField(max_length=200, widget=forms.TextInput(attrs={"size": 80}))
    body = forms.CharField(widget=forms.Textarea(attrs={"rows": 10, "cols": 80}))
    allows = forms.CharField(
        label="What saying yes allows",
        help_text="In plain words.",
        widget=forms.Textarea(attrs={"rows": 3, "cols": 80}),
    )
    does_not_allow = forms.CharField(
        label="What it does not allow",
        help_text="In plain words.",
        widget=forms.Textarea(attrs={"rows": 3, "cols": 80}),
    )
    retention_schedule = forms.CharField(
        required=False,
        help_text="Required by law for biometric consent in some places (BIPA).",
        widget=forms.Textarea(attrs={"rows": 3, "cols": 80}),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        # Browsers send a textarea's line breaks as CRLF and the preview's hidden copy
        # comes back with LF: the published text (and its sha256) must not depend on it.
        for name in TEXT_FIELDS:
            if isinstance(data.get(name), str):
                data[name] = data[name].replace("\r\n", "\n")
        return data

    def family_key(self) -> dict[str, str]:
        data = self.cleaned_data
        return {
            "purpose": data["purpose"],
            "jurisdiction": data["jurisdiction"].code,
            "language": data["language"],
        }


def schedule_required_in(*, jurisdiction: str, purpose: str) -> list[str]:
    """Places a notice of ``jurisdiction`` is served to (itself and its subdivisions)
    whose rules in force demand a published retention schedule for ``purpose``."""
    now = timezone.now()
    served = [
        code
        for code in Jurisdiction.objects.values_list("code", flat=True)
        if jurisdiction in jurisdiction_chain(code)
    ]
    return [
        code
        for code in served
        if requirements_for(jurisdiction=code, purpose=purpose, at=now).requires_retention_schedule
    ]


@admin.register(ConsentNotice)
class ConsentNoticeAdmin(ReadOnlyAdmin):
    change_list_template = "admin/consent/consentnotice/change_list.html"
    change_form_template = "admin/consent/consentnotice/change_form.html"
    list_display = [
        "purpose",
        "jurisdiction",
        "language",
        "version",
        "status",
        "title",
        "first_served_at",
        "must_reconsent",
    ]
    list_filter = ["purpose", "jurisdiction", "language", "status"]
    search_fields = ["title", "=text_sha256"]
    readonly_fields = ["public_id", "text_sha256", "sha256_check", "created_at", "immutability"]
    fieldsets = [
        (None, {"fields": ["purpose", "jurisdiction", "language", "version", "status"]}),
        ("Text the speaker reads", {"fields": list(TEXT_FIELDS)}),
        (
            "Integrity",
            {
                "fields": [
                    "public_id",
                    "text_sha256",
                    "sha256_check",
                    "created_at",
                    "first_served_at",
                    "immutability",
                ]
            },
        ),
    ]

    @admin.display(description="consents under older versions")
    def must_reconsent(self, notice: ConsentNotice) -> int:
        """Valid consents given under an earlier version: who must be asked again."""
        return consents_needing_reconsent(notice=notice).count()

    @admin.display(description="immutable")
    def immutability(self, notice: ConsentNotice) -> str:
        if notice.first_served_at is not None:
            return (
                f"Yes: served since {notice.first_served_at:%Y-%m-%d %H:%M} UTC. The database "
                "refuses any change to its text; publish a new version instead."
            )
        return (
            "Not yet: never served. It freezes when the first consent is given under it. "
            "No screen or service edits notice text: publish a new version instead."
        )

    @admin.display(description="sha256 recomputed")
    def sha256_check(self, notice: ConsentNotice) -> str:
        text = {name: getattr(notice, name) for name in TEXT_FIELDS}
        recomputed = notice_text_sha256(language=notice.language, **text)
        if recomputed == notice.text_sha256:
            return "matches the text above"
        return f"DOES NOT MATCH the text above ({recomputed})"

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view
        return [
            path("publish/", view(self.publish_view), name="consent_consentnotice_publish"),
            path(
                "<path:object_id>/retire/",
                view(self.retire_view),
                name="consent_consentnotice_retire",
            ),
            *super().get_urls(),
        ]

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        context = {
            **(extra_context or {}),
            "can_publish": request.user.has_perm("consent.publish_notice"),
        }
        return super().changelist_view(request, extra_context=context)

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        notice = self.get_object(request, unquote(object_id))
        context = dict(extra_context or {})
        if notice is not None and self.has_view_permission(request, notice):
            context.update(self._notice_page(request, notice))
        return super().change_view(request, object_id, form_url, extra_context=context)

    def _notice_page(self, request: HttpRequest, notice: ConsentNotice) -> dict[str, Any]:
        family = list(family_of(notice))
        valid_per_version = dict(
            Consent.objects.filter(notice__in=family, state__in=VALID_STATES)
            .values_list("notice_id")
            .annotate(n=Count("id"))
        )
        renew = consents_needing_reconsent(notice=notice)
        older = [v.pk for v in family if v.version < notice.version]
        consent_list_url = None
        if older and request.user.has_perm("consent.view_consent"):
            query = {"notice__in": ",".join(map(str, older)), "state__in": ",".join(VALID_STATES)}
            consent_list_url = f"{reverse('admin:consent_consent_changelist')}?{urlencode(query)}"
        served = served_version(family_of(notice))
        return {
            "family": [(v, valid_per_version.get(v.pk, 0)) for v in family],
            "served": served,
            # Public ids only: this page is read by roles that may not see who a speaker is.
            "affected": renew.order_by("given_at", "pk").values(
                "speaker__public_id", "state", "given_at", "notice__version"
            )[:AFFECTED_SHOWN],
            "affected_count": renew.count(),
            "affected_shown": AFFECTED_SHOWN,
            "consent_list_url": consent_list_url,
            "can_publish": request.user.has_perm("consent.publish_notice"),
            "can_retire": request.user.has_perm("consent.retire_notice")
            and notice.status != NoticeStatus.RETIRED,
        }

    def publish_view(self, request: HttpRequest) -> HttpResponse:
        """Form → preview of who must re-consent → publish. Nothing is written before the
        officer confirms the preview."""
        if not request.user.has_perm("consent.publish_notice"):
            raise PermissionDenied
        if request.method != "POST":
            return self._publish_form(request, PublishNoticeForm(initial=self._initial(request)))
        form = PublishNoticeForm(posted(request))
        if "_edit" in request.POST or not form.is_valid():
            return self._publish_form(request, form)
        key = form.family_key()
        next_version = (notice_family(**key).aggregate(latest=Max("version"))["latest"] or 0) + 1
        if "_publish" in request.POST:
            if request.POST.get("expected_version") != str(next_version):
                self.message_user(
                    request,
                    f"Version {next_version - 1} of this notice was published meanwhile. "
                    "Check the preview again.",
                    messages.WARNING,
                )
            else:
                try:
                    notice = publish_notice(**{**form.cleaned_data, **key})
                except RegistryError as exc:
                    field = exc.field if exc.field in form.fields else None
                    form.add_error(field, exc.detail)
                    return self._publish_form(request, form)
                return self._published(request, notice)
        return self._preview(request, form, next_version)

    def _initial(self, request: HttpRequest) -> dict[str, Any]:
        """Prefill from the version served in the family of ``?from=<notice id>``."""
        source_id = request.GET.get("from", "")
        source = self.get_object(request, unquote(source_id)) if source_id else None
        if source is None:
            return {}
        family = family_of(source)
        current = served_version(family) or family.first() or source
        return {
            "purpose": current.purpose,
            "jurisdiction": current.jurisdiction_id,
            "language": current.language,
            **{name: getattr(current, name) for name in TEXT_FIELDS},
        }

    def _preview(
        self, request: HttpRequest, form: PublishNoticeForm, next_version: int
    ) -> HttpResponse:
        key = form.family_key()
        text = {name: form.cleaned_data[name].strip() for name in TEXT_FIELDS}
        candidate = ConsentNotice(
            purpose=key["purpose"],
            jurisdiction_id=key["jurisdiction"],
            language=key["language"],
            version=next_version,
            **text,
        )
        current = served_version(notice_family(**key))
        changed = [
            form.fields[name].label or name.replace("_", " ").capitalize()
            for name in TEXT_FIELDS
            if current is None or getattr(current, name) != text[name]
        ]
        context = {
            **self._page_context(request, f"Publish version {next_version}: preview"),
            "form": form,
            "candidate": candidate,
            "next_version": next_version,
            "current": current,
            "changed": changed,
            # The one rule for who must renew, applied to the version about to exist.
            "reconsent_count": consents_needing_reconsent(notice=candidate).count(),
            "schedule_required_in": []
            if text["retention_schedule"]
            else schedule_required_in(jurisdiction=key["jurisdiction"], purpose=key["purpose"]),
        }
        return TemplateResponse(
            request, "admin/consent/consentnotice/publish_preview.html", context
        )

    def _published(self, request: HttpRequest, notice: ConsentNotice) -> HttpResponse:
        self.log_addition(request, notice, f"Published version {notice.version}.")
        count = consents_needing_reconsent(notice=notice).count()
        self.message_user(
            request,
            f"Published {notice} (sha256 {notice.text_sha256[:12]}…). It is served from now "
            f"on; {count} valid consent(s) given under earlier versions must be asked again.",
            messages.SUCCESS,
        )
        return redirect("admin:consent_consentnotice_change", notice.pk)

    def _publish_form(self, request: HttpRequest, form: PublishNoticeForm) -> HttpResponse:
        context = {**self._page_context(request, "Publish a new notice version"), "form": form}
        return TemplateResponse(request, "admin/consent/consentnotice/publish.html", context)

    def retire_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Confirmation page (GET), then ``retire_active_notice`` (POST)."""
        if not request.user.has_perm("consent.retire_notice"):
            raise PermissionDenied
        notice = self.get_object(request, unquote(object_id))
        if notice is None:
            raise Http404(f"no notice with id {object_id!r}")
        if request.method == "POST":
            try:
                retire_active_notice(notice=notice)
            except ConsentError as exc:
                self.message_user(request, exc.detail, messages.ERROR)
            else:
                self.log_change(request, notice, "Retired.")
                self.message_user(request, f"{notice} retired.", messages.SUCCESS)
            return redirect("admin:consent_consentnotice_change", notice.pk)
        if notice.status == NoticeStatus.RETIRED:
            self.message_user(
                request, f"{notice} is already retired: nothing to do.", messages.ERROR
            )
            return redirect("admin:consent_consentnotice_change", notice.pk)
        family = family_of(notice)
        served = served_version(family)
        context = {
            **self._page_context(request, f"Retire {notice}?"),
            "original": notice,
            "is_served": served is not None and served.pk == notice.pk,
            # Retiring the newest active version puts the previous active one back in use.
            "served_after": served_version(family.exclude(pk=notice.pk)),
            "valid_count": Consent.objects.filter(notice=notice, state__in=VALID_STATES).count(),
        }
        return TemplateResponse(request, "admin/consent/consentnotice/retire.html", context)

    def _page_context(self, request: HttpRequest, title: str) -> dict[str, Any]:
        return {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": title,
            "subtitle": None,
        }
