"""Assisted enrolment: staff with the permission issue a one-time sign-in link for a
speaker and read it out or send it themselves. The link is shown once, on the page;
the database keeps only its digest, and who issued it."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.html import format_html

from registry.admin import ReadOnlyAdmin, SpeakerAdmin
from registry.errors import RegistryError
from registry.forms import StrictForm, posted
from registry.models import Speaker
from speakers.compliance_file import REASON_MIN_LENGTH, reveal_contact, speaker_file
from speakers.models import LinkIssuer, SignInLink
from speakers.services import issue_sign_in_link

admin.site.unregister(Speaker)


class RevealContactForm(StrictForm):
    reason = forms.CharField(
        label="Why do you need the contact details?",
        min_length=REASON_MIN_LENGTH,
        max_length=500,
        help_text="Recorded in the access log with your name, the time and your address.",
        widget=forms.TextInput(attrs={"size": 60}),
    )


@admin.register(Speaker)
class SpeakerWithSignInAdmin(SpeakerAdmin):
    """The speaker page: timeline, current consents, recordings and releases,
    withdrawals and their propagation, earnings; contact details only on request, with a
    reason, each time logged (registry.view_speaker_contact)."""

    actions = ["create_sign_in_link"]

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        speaker = self.get_object(request, unquote(object_id))
        if speaker is None:
            raise Http404("no such speaker")
        if not self.has_view_permission(request, speaker):
            raise PermissionDenied
        may_reveal = request.user.has_perm("registry.view_speaker_contact")
        form = RevealContactForm()
        contact = None
        status = 200
        if request.method == "POST":
            if not may_reveal:
                raise PermissionDenied
            form = RevealContactForm(posted(request))
            if form.is_valid():
                try:
                    contact = reveal_contact(
                        request=request,
                        speaker_id=speaker.pk,
                        reason=form.cleaned_data["reason"],
                    )
                except RegistryError as exc:
                    form.add_error("reason", exc.detail)
            if not form.is_valid() or form.errors:
                status = 400
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": f"Speaker {speaker.public_id}",
            "subtitle": None,
            "original": speaker,
            "file": speaker_file(speaker=speaker),
            "may_reveal": may_reveal,
            "revealed": request.method == "POST" and not form.errors,
            "contact": contact,
            "form": form,
            **(extra_context or {}),
        }
        return TemplateResponse(request, "admin/registry/speaker/file.html", context, status=status)

    def has_issue_link_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("speakers.issue_sign_in_link")

    @admin.action(description="Create a one-time sign-in link", permissions=["issue_link"])
    def create_sign_in_link(self, request: HttpRequest, queryset: QuerySet[Speaker]) -> None:
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one speaker.", messages.ERROR)
            return
        speaker = queryset.get()
        try:
            issued = issue_sign_in_link(
                speaker=speaker,
                issued_by=LinkIssuer.STAFF,
                staff_user=request.user,  # type: ignore[arg-type]
            )
        except RegistryError as exc:
            self.message_user(request, exc.detail, messages.ERROR)
            return
        self.message_user(
            request,
            format_html(
                "Sign-in link for {} (works once, until {} UTC): {}",
                speaker.public_id,
                issued.link.expires_at.strftime("%Y-%m-%d %H:%M"),
                issued.url,
            ),
            messages.SUCCESS,
        )


@admin.register(SignInLink)
class SignInLinkAdmin(ReadOnlyAdmin):
    list_display = ["speaker", "issued_by", "issued_by_user", "created_at", "expires_at", "used_at"]
    list_filter = ["issued_by"]
    search_fields = ["=speaker__public_id"]
    exclude = ["token_digest"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[SignInLink]:
        return super().get_queryset(request).select_related("speaker", "issued_by_user")
