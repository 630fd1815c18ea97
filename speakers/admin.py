"""Assisted enrolment: staff with the permission issue a one-time sign-in link for a
speaker and read it out or send it themselves. The link is shown once, on the page;
the database keeps only its digest, and who issued it."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from registry.admin import ReadOnlyAdmin, SpeakerAdmin
from registry.errors import RegistryError
from registry.models import Speaker
from speakers.models import LinkIssuer, SignInLink
from speakers.services import issue_sign_in_link

admin.site.unregister(Speaker)


@admin.register(Speaker)
class SpeakerWithSignInAdmin(SpeakerAdmin):
    actions = ["create_sign_in_link"]

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
