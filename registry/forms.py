"""Strict HTML forms: a POST is refused when it carries a field the form does not have,
or one of its fields twice.

Django's forms read what they declare and ignore the rest, and a repeated field silently
yields its last value: a consent form posted with a second ``notice`` (another purpose's)
would be judged on whichever came last, while the person (or the page) meant the other.
Every portal form, the invitation page's forms and the custom admin forms derive from
``StrictForm``: such a POST is invalid with a message that says what is wrong, so the
view re-renders the form and writes nothing, exactly as for any other invalid input.
"""

from __future__ import annotations

from typing import ClassVar

from django import forms
from django.http import HttpRequest, QueryDict
from django.utils.translation import ngettext

# The name Django's {% csrf_token %} gives its hidden field (and its middleware reads).
CSRF_FIELD = "csrfmiddlewaretoken"
# Named in a message: enough to act on, bounded against a POST made of thousands.
MAX_NAMED = 10


def posted(request: HttpRequest) -> QueryDict | None:
    """The data a strict form is bound to: the POST, else None (``request.POST or None``
    would leave a form posted empty unbound, refused without saying why). No strict form
    takes a file: the parts of a multipart POST join the data by name, so the form refuses
    them as fields it does not have instead of silently ignoring them."""
    if request.method != "POST":
        return None
    if not request.FILES:
        return request.POST
    data = request.POST.copy()
    for name in request.FILES:
        data.appendlist(name, "")
    return data


class StrictForm(forms.Form):
    """A form whose POST must hold its own fields (each once), the CSRF token and the
    names listed in ``accepted_names`` (a submit button's name, ``next``), nothing else."""

    accepted_names: ClassVar[frozenset[str]] = frozenset()

    def names_accepted(self) -> set[str]:
        """The names a POST of this form may carry."""
        names = {CSRF_FIELD, *self.accepted_names}
        for bound in self:
            widget = bound.field.widget
            if isinstance(widget, forms.MultiWidget):
                suffixes = widget.widgets_names  # type: ignore[attr-defined]  # not in the stubs
                names |= {bound.html_name + suffix for suffix in suffixes}
            else:
                names.add(bound.html_name)
        return names

    def names_repeatable(self) -> set[str]:
        """Names a POST legitimately repeats (a multiple select, a group of checkboxes)."""
        return {
            bound.html_name
            for bound in self
            if getattr(bound.field.widget, "allow_multiple_selected", False)
        }

    def full_clean(self) -> None:
        super().full_clean()
        if not self.is_bound:
            return
        posted = list(self.data.keys())
        accepted = self.names_accepted()
        unknown = sorted(name for name in posted if name not in accepted)
        if unknown:
            self.add_error(None, _unknown(unknown))
        if hasattr(self.data, "getlist"):
            repeatable = self.names_repeatable()
            repeated = sorted(
                name
                for name in posted
                if name not in repeatable and len(self.data.getlist(name)) > 1
            )
            if repeated:
                self.add_error(None, _repeated(repeated))


def _named(names: list[str]) -> str:
    shown = ", ".join(f"“{name}”" for name in names[:MAX_NAMED])
    return shown + ("…" if len(names) > MAX_NAMED else "")


def _unknown(names: list[str]) -> forms.ValidationError:
    return forms.ValidationError(
        ngettext(
            "This form was sent with a field it does not have: %(names)s. Nothing was "
            "saved: please send the form again from this page.",
            "This form was sent with fields it does not have: %(names)s. Nothing was "
            "saved: please send the form again from this page.",
            len(names),
        ),
        code="unknown_field",
        params={"names": _named(names)},
    )


def _repeated(names: list[str]) -> forms.ValidationError:
    return forms.ValidationError(
        ngettext(
            "This form was sent with the field %(names)s more than once, so what you meant "
            "is not clear. Nothing was saved: please send the form again from this page.",
            "This form was sent with the fields %(names)s more than once, so what you "
            "meant is not clear. Nothing was saved: please send the form again from this "
            "page.",
            len(names),
        ),
        code="repeated_field",
        params={"names": _named(names)},
    )
