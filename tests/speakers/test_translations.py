"""Every catalog (Japanese, German, French) is complete, compiled, keeps every
placeholder and HTML tag of its source, and covers every string in the code."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import polib
import pytest
from django.conf import settings
from django.core.management import call_command

LOCALE = Path(settings.BASE_DIR) / "locale"
# Every language the product offers besides English (the source language).
CATALOGS = [code for code, _name in settings.LANGUAGES if code != settings.LANGUAGE_CODE]
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
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]|%[sd]|\{\w*\}")
TAG = re.compile(r"</?\w+[^>]*>")


def catalog(language: str) -> polib.POFile:
    return polib.pofile(str(LOCALE / language / "LC_MESSAGES" / "django.po"))


def forms_and_sources(entry: polib.POEntry) -> list[tuple[str, str]]:
    """Each translated form with the source text it renders: a plural entry's first
    form is the singular and its second the plural; a language with one form (Japanese)
    renders every count with it, so that form answers to the plural source."""
    if not entry.msgid_plural:
        return [(entry.msgstr, entry.msgid)]
    forms = [entry.msgstr_plural[k] for k in sorted(entry.msgstr_plural)]
    if len(forms) == 1:
        return [(forms[0], entry.msgid_plural)]
    return list(zip(forms, [entry.msgid, *[entry.msgid_plural] * (len(forms) - 1)], strict=True))


def test_every_offered_language_has_a_catalog():
    assert set(CATALOGS) >= {"ja", "de", "fr"}
    for language in CATALOGS:
        assert (LOCALE / language / "LC_MESSAGES" / "django.mo").is_file(), language


@pytest.mark.parametrize("language", CATALOGS)
def test_every_entry_is_translated_and_none_is_fuzzy(language):
    po = catalog(language)
    assert po.untranslated_entries() == []
    assert po.fuzzy_entries() == []
    assert len(po.translated_entries()) > 400


@pytest.mark.parametrize("language", CATALOGS)
def test_the_compiled_catalog_matches_the_source(language):
    folder = LOCALE / language / "LC_MESSAGES"
    po = {e.msgid: e.msgstr or e.msgstr_plural for e in polib.pofile(str(folder / "django.po"))}
    mo = {e.msgid: e.msgstr or e.msgstr_plural for e in polib.mofile(str(folder / "django.mo"))}
    assert mo == po


@pytest.mark.parametrize("language", CATALOGS)
def test_placeholders_and_html_survive_translation(language):
    for entry in catalog(language).translated_entries():
        for translated, source in forms_and_sources(entry):
            assert set(PLACEHOLDER.findall(translated)) == set(PLACEHOLDER.findall(source)), (
                entry.msgid,
                translated,
            )
            assert sorted(TAG.findall(translated)) == sorted(TAG.findall(source)), (
                entry.msgid,
                translated,
            )


@pytest.mark.parametrize("language", ["de", "fr"])
def test_the_plural_forms_follow_the_language(language):
    plural = catalog(language).metadata["Plural-Forms"]
    assert (
        plural
        == {"de": "nplurals=2; plural=(n != 1);", "fr": "nplurals=2; plural=(n > 1);"}[language]
    )


@pytest.mark.skipif(shutil.which("xgettext") is None, reason="GNU gettext is not installed")
def test_every_catalog_holds_every_string_marked_in_code_and_templates(
    tmp_path, settings, monkeypatch
):
    """makemessages over a scratch copy of the sources must find nothing a committed
    catalog lacks. (Run in the checkout it would rewrite the committed catalogs:
    makemessages writes to the ``locale`` folder nearest each source file.)"""
    base = Path(settings.BASE_DIR)
    for tree in (*SOURCES, "locale"):
        shutil.copytree(base / tree, tmp_path / tree, ignore=shutil.ignore_patterns("__pycache__"))
    scratch = tmp_path / "locale"
    settings.LOCALE_PATHS = [scratch]
    monkeypatch.chdir(tmp_path)
    call_command("makemessages", locale=CATALOGS, ignore_patterns=IGNORE, verbosity=0)
    for language in CATALOGS:
        fresh = {
            e.msgid for e in polib.pofile(str(scratch / language / "LC_MESSAGES" / "django.po"))
        }
        committed = {e.msgid for e in catalog(language)}
        assert fresh - committed == set(), language
