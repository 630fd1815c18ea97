"""The staff admin: two factors for every account (password, then a TOTP code from an
authenticator app), lockout after repeated failures (django-axes counts wrong passwords
and wrong codes alike).

A staff member without a confirmed authenticator signs in with the password once and is
sent to the enrolment page (QR code, confirm one code); nothing else of the admin opens
until a code has been verified in this session."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

import segno
from axes.handlers.database import AxesDatabaseHandler
from django import forms
from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.signals import user_login_failed
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import URLPattern, URLResolver, path, reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice

from registry.forms import StrictForm, posted

_View = TypeVar("_View", bound=Callable[..., HttpResponseBase])
CODE_ERROR = "That authentication code is not right (or was already used). Try the next one."


class StaffSignInAttempts(AxesDatabaseHandler):
    """django-axes, for the admin only: a speaker's failed sign-in (rate-limited by the
    portal itself) leaves no row with their address here."""

    def user_login_failed(
        self, sender: Any, credentials: dict[str, Any], request: Any = None, **kwargs: Any
    ) -> None:
        if request is not None and self.is_admin_request(request):
            super().user_login_failed(sender, credentials, request, **kwargs)


def verified(user: Any) -> bool:
    """Whether this session's user passed the second factor. Right after the password
    form logs a user in, the request's user is a fresh object that django-otp's
    middleware has not seen: the device the form verified tells."""
    is_verified = getattr(user, "is_verified", None)
    if is_verified is not None:
        return bool(is_verified())
    return getattr(user, "otp_device", None) is not None


def confirmed_device(user: Any) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=True).order_by("id").first()


def _check_code(device: TOTPDevice, code: str) -> bool:
    """Whether ``code`` is the device's current code (each code works once; wrong codes
    slow further tries down, django-otp's throttling)."""
    allowed, _ = device.verify_is_allowed()
    return bool(allowed and code.isdigit() and device.verify_token(code))


class StaffLoginForm(AdminAuthenticationForm):
    otp_token = forms.CharField(
        label="Authentication code",
        required=False,
        max_length=8,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
        help_text="The 6 digits your authenticator app shows. Leave empty only to set one up.",
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean()  # password (through axes) and is_staff
        user = self.get_user()
        device = confirmed_device(user)
        if device is None:
            return data  # signs in with the password only, to enrol (see login below)
        code = (data.get("otp_token") or "").strip()
        if not _check_code(device, code):
            # Counted by django-axes like a wrong password.
            user_login_failed.send(
                sender=__name__,
                credentials={"username": data.get("username")},
                request=self.request,
            )
            raise forms.ValidationError(CODE_ERROR, code="invalid_token")
        user.otp_device = device  # type: ignore[attr-defined]  # django-otp: verified at login
        return data


class EnrolForm(StrictForm):
    otp_token = forms.CharField(label="Code from the app", max_length=8)


class RegistryAdminSite(admin.AdminSite):
    site_header = "Voice consent registry"
    site_title = "Consent registry admin"
    index_title = "Compliance"
    login_form = StaffLoginForm
    login_template = "admin/registry/login.html"

    def __init__(self, name: str = "admin") -> None:
        super().__init__(name)
        self._pages: list[tuple[str, Callable[..., HttpResponse], str]] = []

    def register_page(self, route: str, view: Callable[..., HttpResponse], name: str) -> None:
        """A page of the admin that belongs to no model (e.g. the compliance report),
        behind the same staff and two-factor checks as every admin view."""
        self._pages.append((route, view, name))

    def has_permission(self, request: HttpRequest) -> bool:
        user = request.user
        return super().has_permission(request) and verified(user)

    def admin_view(self, view: _View, cacheable: bool = False) -> _View:
        """Every admin page (once the staff checks pass) refuses a NUL character in its
        query string: PostgreSQL text cannot hold one, so a list filter
        (``?status__exact=%00``) would fail as a server error and an export would fail
        writing its access-log row. (Forms refuse NUL themselves, with a message.)"""

        @wraps(view)
        def refusing_nul(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            for key, values in request.GET.lists():
                if "\x00" in key or any("\x00" in value for value in values):
                    return HttpResponseBadRequest("A NUL character is not allowed here.")
            return view(request, *args, **kwargs)

        return cast(_View, super().admin_view(refusing_nul, cacheable))

    def get_urls(self) -> list[URLResolver | URLPattern]:
        view = never_cache(csrf_protect(self.enrol))
        enrol = path("two-factor/enrol/", view, name="two_factor_enrol")
        pages = [path(route, self.admin_view(v), name=name) for route, v, name in self._pages]
        return [enrol, *pages, *super().get_urls()]

    def login(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> Any:
        if self._needs_enrolment(request):
            return redirect("admin:two_factor_enrol")
        response = super().login(request, extra_context)
        if request.method == "POST" and self._needs_enrolment(request):
            return redirect("admin:two_factor_enrol")
        return response

    @staticmethod
    def _needs_enrolment(request: HttpRequest) -> bool:
        user = request.user
        return bool(
            user.is_authenticated
            and user.is_active
            and user.is_staff
            and not verified(user)
            and confirmed_device(user) is None
        )

    def enrol(self, request: HttpRequest) -> HttpResponse:
        """Set up the authenticator: only for a staff member signed in with the password
        who has none yet. The secret is shown here once, as a QR code and as text."""
        if not self._needs_enrolment(request):
            return redirect("admin:index" if self.has_permission(request) else "admin:login")
        device, _ = TOTPDevice.objects.get_or_create(
            user=request.user, confirmed=False, defaults={"name": "Authenticator app"}
        )
        form = EnrolForm(posted(request))
        status = 200
        if request.method == "POST":
            if form.is_valid() and _check_code(device, form.cleaned_data["otp_token"].strip()):
                device.confirmed = True
                device.save(update_fields=["confirmed"])
                TOTPDevice.objects.filter(user=request.user, confirmed=False).delete()
                otp_login(request, device)
                return redirect("admin:index")
            form.add_error("otp_token", CODE_ERROR)
            status = 400
        qr = segno.make(device.config_url, error="m").svg_data_uri(scale=5)
        secret = device.config_url.split("secret=")[1].split("&")[0]
        context = {
            **self.each_context(request),
            "title": "Set up two-factor sign-in",
            "form": form,
            "qr": qr,
            "secret": " ".join(secret[i : i + 4] for i in range(0, len(secret), 4)),
            "logout_url": reverse("admin:logout"),
        }
        return render(request, "admin/registry/enrol.html", context, status=status)
