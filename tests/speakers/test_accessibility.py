"""WCAG AA contrast (4.5:1 for text) of every colour pair the stylesheet uses for text,
and a label for every form control the portal renders."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

from tests.factories import SpeakerFactory
from tests.speakers.conftest import give, sign_in

CSS = (Path(settings.BASE_DIR) / "registry" / "static" / "registry" / "site.css").read_text()

# (selector whose rule must declare these colours, foreground, background)
TEXT_PAIRS = [
    (":root", "#1b1f24", "#ffffff"),  # body text
    (":root", "#4a5260", "#ffffff"),  # muted text
    (":root", "#0b5cad", "#ffffff"),  # links
    (".notice", "#4a5260", "#f7f8fa"),  # muted text inside a notice
    ("button, .button", "#fff", "#0b5cad"),  # primary buttons
    ("button.danger, .button.danger", "#fff", "#a4161a"),  # withdraw buttons
    (".state-given, .state-renewed", "#1d5f33", "#e7f6ec"),
    (".state-withdrawn, .state-refused, .state-expired", "#7a1f1f", "#fdecea"),
    (".message.success", "#1b1f24", "#e7f6ec"),
    (".message.error", "#1b1f24", "#fdecea"),
    (".errorlist", "#a4161a", "#ffffff"),
]


def luminance(colour: str) -> float:
    value = colour.lstrip("#")
    if len(value) == 3:
        value = "".join(c * 2 for c in value)
    channels = [int(value[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(foreground: str, background: str) -> float:
    lighter, darker = sorted((luminance(foreground), luminance(background)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


@pytest.mark.parametrize(("selector", "foreground", "background"), TEXT_PAIRS)
def test_text_colours_meet_wcag_aa_contrast(selector, foreground, background):
    rule = re.search(r"(?m)^" + re.escape(selector) + r"\s*\{([^}]*)\}", CSS)
    assert rule, f"no rule for {selector}"
    variables = dict(re.findall(r"--([\w-]+):\s*(#[0-9a-fA-F]{3,6})", CSS))
    declared = re.sub(
        r"var\(--([\w-]+)\)", lambda m: variables.get(m.group(1), ""), rule.group(1)
    ).lower()
    # The pair checked is the pair the stylesheet uses (inherited white/ink/muted aside).
    for colour in (foreground, background):
        if colour not in {"#fff", "#ffffff", "#1b1f24", "#4a5260"}:
            assert colour in declared, f"{selector} no longer uses {colour}"
    assert contrast(foreground, background) >= 4.5, (selector, foreground, background)


class _Controls(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: list[str] = []
        self.labelled: set[str] = set()
        self.unlabelled: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        data = dict(attrs)
        if tag == "label" and data.get("for"):
            self.labelled.add(data["for"] or "")
        if tag in {"input", "select", "textarea"} and data.get("type") not in {
            "hidden",
            "submit",
        }:
            if data.get("aria-label"):
                return
            if data.get("id"):
                self.ids.append(data["id"] or "")
            else:
                self.unlabelled.append(str(data))


@pytest.mark.django_db
@pytest.mark.parametrize(
    "name",
    [
        "speakers:sign-in",
        "speakers:dashboard",
        "speakers:password",
        "speakers:erasure",
        "speakers:verify",
        "speakers:earnings",
    ],
)
def test_every_form_control_has_a_label(client, notices, name):
    speaker = SpeakerFactory()
    give(speaker, "training")
    sign_in(client, speaker)
    parser = _Controls()
    parser.feed(client.get(reverse(name)).content.decode())
    assert parser.unlabelled == []
    assert set(parser.ids) <= parser.labelled
