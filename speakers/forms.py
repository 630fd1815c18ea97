"""HTML forms of the speaker portal. Shape only: the rules live in the services.

Every form a POST binds is a ``StrictForm``: a field it does not have, or one of its
fields sent twice, makes it invalid with a message, so nothing is written."""

from __future__ import annotations

import datetime
import json
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from registry.forms import StrictForm


class EmailLinkForm(StrictForm):
    email = forms.EmailField(label=_("Email address"), max_length=254)


class PasswordSignInForm(StrictForm):
    accepted_names = frozenset({"next"})  # where to go once signed in (sign_in.html)
    email = forms.EmailField(label=_("Email address"), max_length=254)
    password = forms.CharField(
        label=_("Password"), strip=False, max_length=256, widget=forms.PasswordInput
    )


# The notice travels in a hidden field: its error is shown above the form (give.html,
# invitation.html) in words a speaker can act on, not "Enter a valid UUID".
NOTICE_ERRORS = {
    "required": _("Please check what you entered."),
    "invalid": _("Please check what you entered."),
}


class GiveConsentForm(StrictForm):
    notice = forms.UUIDField(widget=forms.HiddenInput, error_messages=NOTICE_ERRORS)
    signed_name = forms.CharField(
        label=_("Type your full name to sign"), required=False, max_length=200
    )

    def __init__(self, *args: Any, written: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.written = written
        if not written:
            del self.fields["signed_name"]
        else:
            self.fields["signed_name"].required = True
            self.fields["signed_name"].widget.attrs["autocomplete"] = "name"


class ConfirmForm(StrictForm):
    """A POST with a CSRF token and nothing else: one confirming click."""


class DateOfBirthForm(StrictForm):
    date_of_birth = forms.DateField(
        label=_("Your date of birth"),
        widget=forms.DateInput(attrs={"type": "date", "autocomplete": "bday"}),
        help_text=_("Format: YYYY-MM-DD. We use it only to check your age."),
    )

    def clean_date_of_birth(self) -> datetime.date:
        value: datetime.date = self.cleaned_data["date_of_birth"]
        if value > timezone.now().date():
            raise forms.ValidationError(_("That date is in the future."))
        return value


class NewPasswordForm(StrictForm):
    password1 = forms.CharField(
        label=_("New password"),
        strip=False,
        max_length=256,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    password2 = forms.CharField(
        label=_("Repeat the new password"),
        strip=False,
        max_length=256,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("password1") and data.get("password1") != data.get("password2"):
            raise forms.ValidationError(_("The two passwords differ."))
        return data


class ErasureForm(StrictForm):
    understood = forms.BooleanField(
        label=_("I understand that every consent I gave will be withdrawn and my data erased."),
        required=True,
    )


class VerifyReceiptForm(StrictForm):
    receipt = forms.CharField(
        label=_("Signed receipt (JSON)"),
        max_length=100_000,
        widget=forms.Textarea(attrs={"rows": 10, "spellcheck": "false"}),
    )

    def clean_receipt(self) -> dict[str, Any]:
        try:
            value = json.loads(self.cleaned_data["receipt"])
        except (json.JSONDecodeError, RecursionError) as exc:
            # RecursionError: nested deeper than Python's decoder goes ("[[[[…").
            raise forms.ValidationError(_("This is not valid JSON.")) from exc
        shape_ok = (
            isinstance(value, dict)
            and isinstance(value.get("receipt"), dict)
            and isinstance(value.get("signature"), dict)
            and all(isinstance(value["signature"].get(k), str) for k in ("alg", "kid", "value"))
        )
        if not shape_ok:
            raise forms.ValidationError(
                _(
                    "A signed receipt has two members: receipt (an object) and signature "
                    "(alg, kid and value)."
                )
            )
        return value


class PeriodForm(forms.Form):
    """The statement period of a read (GET): a filter, not a write, so not strict (a
    link may carry other query parameters, which change nothing)."""

    month = forms.RegexField(
        label=_("Month"), regex=r"^\d{4}-(0[1-9]|1[0-2])$", required=False, max_length=7
    )

    def clean_month(self) -> str:
        value: str = self.cleaned_data["month"]
        if value and not 2000 <= int(value[:4]) <= 2999:
            raise forms.ValidationError(_("Give a month between 2000-01 and 2999-12."))
        return value
