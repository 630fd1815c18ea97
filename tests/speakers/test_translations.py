"""The Japanese catalog is complete, compiled, and covers every string in the code."""

from __future__ import annotations

import shutil
from pathlib import Path

import polib
import pytest
from django.conf import settings
from django.core.management import call_command

CATALOG = Path(settings.BASE_DIR) / "locale" / "ja" / "LC_MESSAGES"
IGNORE = [".venv/*", "tests/*", "bench/*", "staticfiles/*", ".local/*", "build/*"]
# Where translatable strings live.
SOURCES = (
    "registry",
    "consent",
    "datasetcards",
    "compensation",
    "speakers",
    "propagation",
    "templates",
)


def test_every_japanese_entry_is_translated_and_none_is_fuzzy():
    po = polib.pofile(str(CATALOG / "django.po"))
    assert po.untranslated_entries() == []
    assert po.fuzzy_entries() == []
    assert len(po.translated_entries()) > 200


def test_the_compiled_catalog_matches_the_source():
    po = {e.msgid: e.msgstr or e.msgstr_plural for e in polib.pofile(str(CATALOG / "django.po"))}
    mo = {e.msgid: e.msgstr or e.msgstr_plural for e in polib.mofile(str(CATALOG / "django.mo"))}
    assert mo == po


def test_placeholders_survive_translation():
    for entry in polib.pofile(str(CATALOG / "django.po")):
        for placeholder in ("%(purpose)s", "%(n)s", "%(version)s", "%(at)s", "%(since)s"):
            if placeholder in entry.msgid:
                translated = entry.msgstr or "".join(entry.msgstr_plural.values())
                assert placeholder in translated, entry.msgid


@pytest.mark.skipif(shutil.which("xgettext") is None, reason="GNU gettext is not installed")
def test_the_catalog_holds_every_string_marked_in_code_and_templates(
    tmp_path, settings, monkeypatch
):
    """makemessages over a scratch copy of the sources must find nothing the committed
    catalog lacks. (Run in the checkout it would rewrite the committed catalog itself:
    makemessages writes to the ``locale`` folder nearest each source file.)"""
    base = Path(settings.BASE_DIR)
    for tree in (*SOURCES, "locale"):
        shutil.copytree(base / tree, tmp_path / tree, ignore=shutil.ignore_patterns("__pycache__"))
    scratch = tmp_path / "locale"
    settings.LOCALE_PATHS = [scratch]
    monkeypatch.chdir(tmp_path)
    call_command("makemessages", locale=["ja"], ignore_patterns=IGNORE, verbosity=0)
    fresh = {e.msgid for e in polib.pofile(str(scratch / "ja" / "LC_MESSAGES" / "django.po"))}
    committed = {e.msgid for e in polib.pofile(str(CATALOG / "django.po"))}
    assert fresh - committed == set()
