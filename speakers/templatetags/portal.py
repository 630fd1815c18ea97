"""Template filters that turn domain codes into the reader's language."""

from __future__ import annotations

from django import template

from speakers import wording

register = template.Library()


@register.filter
def purpose_title(purpose: str) -> str:
    return str(wording.PURPOSE_TITLE.get(purpose, purpose))


@register.filter
def purpose_question(purpose: str) -> str:
    return str(wording.PURPOSE_QUESTION.get(purpose, ""))


@register.filter
def state_label(state: str | None) -> str:
    if not state:
        return str(wording.NOT_ASKED)
    return str(wording.STATE_LABEL.get(state, state))


@register.filter
def action_label(action: str) -> str:
    return str(wording.ACTION_LABEL.get(action, action))


@register.filter
def error_text(code: str) -> str:
    return str(wording.ERROR_MESSAGE.get(code, wording.ERROR_MESSAGE["notice_unavailable"]))


@register.filter
def get_item(mapping: dict[str, object], key: str) -> object:
    return mapping.get(key)


@register.filter
def hours(duration_ms: int) -> str:
    minutes, seconds = divmod(round(duration_ms / 1000), 60)
    hrs, minutes = divmod(minutes, 60)
    return f"{hrs}:{minutes:02d}:{seconds:02d}"
