"""The languages a status page speaks, and the texts written in them.

A page declares its languages (``StatusPage.languages``, the first is its default). Every text
written for the public (component and group names, public incident names, update bodies,
maintenance notes, templates and degradation messages) keeps its default-language words in its
own field and the other languages in ``translations``::

    {"de": {"body": "Wir untersuchen Probleme mit dem Chat."}}

A reader gets the text in their language where one was written, else the default language's.
The page's fixed words (headings, state names) come from Django's catalogs
(``statuspage/locale``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from django.conf import settings
from django.utils.translation import get_supported_language_variant
from django.utils.translation.trans_real import parse_accept_lang_header

from statuspage.errors import InvalidStatusInput

DEFAULT_LANGUAGE = "en"
MAX_LANGUAGES = 8
_CODE = re.compile(r"[a-z]{2,3}(-[a-z0-9]{2,8})?")


def default_languages() -> list[str]:
    return [DEFAULT_LANGUAGE]


def clean_code(value: object) -> str:
    code = str(value or "").strip().lower().replace("_", "-")
    if not _CODE.fullmatch(code):
        raise InvalidStatusInput(
            f"{str(value)[:20]!r} is not a language code (like en, de or pt-br)"
        )
    return code


def clean_languages(value: object) -> list[str]:
    """A non-empty list of distinct language codes, the default first."""
    if not isinstance(value, list) or not value:
        raise InvalidStatusInput("languages: a list of language codes, the default first")
    if len(value) > MAX_LANGUAGES:
        raise InvalidStatusInput(f"languages: at most {MAX_LANGUAGES}")
    codes = [clean_code(v) for v in value]
    if len(set(codes)) != len(codes):
        raise InvalidStatusInput("languages: each language once")
    return codes


def clean_translations(value: object, fields: dict[str, int]) -> dict[str, dict[str, str]]:
    """``{language: {field: text}}`` with known fields, texts within their lengths, no NUL;
    empty texts are dropped."""
    if value in (None, ""):
        return {}
    if not isinstance(value, dict):
        raise InvalidStatusInput("translations: an object of language -> {field: text}")
    if len(value) > MAX_LANGUAGES:
        raise InvalidStatusInput(f"translations: at most {MAX_LANGUAGES} languages")
    cleaned: dict[str, dict[str, str]] = {}
    for language, texts in value.items():
        code = clean_code(language)
        if not isinstance(texts, dict):
            raise InvalidStatusInput(f"translations.{code}: an object of field -> text")
        kept = {}
        for name, text in texts.items():
            if name not in fields:
                allowed = ", ".join(sorted(fields))
                raise InvalidStatusInput(
                    f"translations.{code}: unknown field {str(name)[:40]!r} (allowed: {allowed})"
                )
            if not isinstance(text, str):
                raise InvalidStatusInput(f"translations.{code}.{name}: a text")
            if "\x00" in text:
                raise InvalidStatusInput(f"translations.{code}.{name}: NUL is not allowed")
            text = text.strip()
            if len(text) > fields[name]:
                raise InvalidStatusInput(
                    f"translations.{code}.{name}: at most {fields[name]} characters, "
                    f"got {len(text)}"
                )
            if text:
                kept[name] = text
        if kept:
            cleaned[code] = kept
    return cleaned


def pick(translations: dict | None, language: str, name: str, default: str) -> str:
    """The text of ``name`` in ``language`` where one was written, else ``default``."""
    texts = (translations or {}).get(language)
    if isinstance(texts, dict):
        text = texts.get(name)
        if isinstance(text, str) and text:
            return text
    return default


def _match(wanted: str, available: Iterable[str]) -> str | None:
    wanted = wanted.strip().lower().replace("_", "-")
    if not wanted:
        return None
    available = list(available)
    if wanted in available:
        return wanted
    base = wanted.split("-")[0]
    if base in available:
        return base
    return next((code for code in available if code.split("-")[0] == base), None)


def negotiate(
    available: list[str], *, query: str | None = None, accept: str = "", default: str | None = None
) -> str:
    """The reader's language among ``available``: ``?lang=`` first, then Accept-Language in
    the reader's order of preference, else the page's default (the first)."""
    default = default or (available[0] if available else DEFAULT_LANGUAGE)
    if len(available) <= 1:
        return default
    if query:
        found = _match(query[:20], available)
        if found:
            return found
    if accept:
        for wanted, _quality in parse_accept_lang_header(accept[:500]) or ():
            if wanted == "*":
                break
            found = _match(wanted, available)
            if found:
                return found
    return default


def catalog_language(code: str) -> str:
    """The Django language to activate for a page language (English when we have no
    catalog for it: the page's own texts still show in the chosen language)."""
    try:
        return get_supported_language_variant(code)
    except LookupError:
        return settings.LANGUAGE_CODE
