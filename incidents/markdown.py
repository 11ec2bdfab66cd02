"""Markdown written by users (runbooks, post-mortems) rendered to HTML that is safe to show.

Rendering is cmark-gfm (GitHub's C implementation of CommonMark, through ``cmarkgfm``): it
parses without recursion and in time linear in the input for the cases that made
Python-Markdown quadratic (``[`` repeated: 45 s for 10 KB) or recurse until it failed (nested
lists). Its output is never trusted: nh3 (ammonia) keeps only the tags and attributes listed
here. Event handlers (``on*``), htmx attributes (``hx-*``, ``data-hx-*``), ``style`` and every URL
scheme except http, https and mailto are dropped, so a runbook can neither run script nor make
htmx send requests on the reader's behalf.

Limits (docs/performance.md): a text is rendered as Markdown only when it is at most
MAX_MARKDOWN_CHARS long, its lines nest containers (quotes, lists) at most MAX_NESTING deep, and
outside code blocks it holds at most MAX_INLINE_MARKUP inline delimiters, MAX_LINKS links and
MAX_TABLE_PIPES table separators (tables and links multiply the output, and sanitising costs
per byte and per link). Saving or previewing
a text beyond them is refused (``markdown_problem`` names the limit, forms and the API answer
400); a text stored before the limits is shown as escaped plain text instead, never rendered.
"""

from __future__ import annotations

import re

import cmarkgfm
import nh3
from cmarkgfm.cmark import Options
from django.core.exceptions import ValidationError
from django.utils.html import escape, linebreaks
from django.utils.safestring import SafeString, mark_safe

ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "dd", "del", "details", "dl", "dt", "em",
    "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "kbd", "li", "ol", "p", "pre", "s",
    "strong", "sub", "summary", "sup", "table", "tbody", "td", "th", "thead", "tr", "ul",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "abbr": {"title"},
    "td": {"align"},
    "th": {"align"},
    "ol": {"start"},
}
ALLOWED_URL_SCHEMES = {"http", "https", "mailto"}
# Raw HTML is passed to nh3, which keeps the allowed tags (<details>, <kbd>, ...) and drops the
# rest; single newlines are line breaks, as runbook authors expect.
CMARK_OPTIONS = Options.CMARK_OPT_UNSAFE | Options.CMARK_OPT_HARDBREAKS
# GitHub's extensions but its tagfilter: nh3 removes disallowed tags whole rather than leaving
# them as visible escaped text.
CMARK_EXTENSIONS = ["table", "strikethrough", "autolink", "tasklist"]

MAX_MARKDOWN_CHARS = 100_000
MAX_NESTING = 16
MAX_INLINE_MARKUP = 8_000
MAX_TABLE_PIPES = 4_000
MAX_LINKS = 1_000
# What starts a link (GFM also links bare URLs): each costs the sanitiser an <a> to rewrite.
_LINK_MARKS = ("](", "]:", "://", "www.", "mailto:")

# A line opening more than MAX_NESTING containers at once ("> > > ...", "- - - ..."): cmark
# nests them all (100,000 ">" made 2.7 MB of HTML). Bounded repetition, tried at line starts only.
_DEEP_LINE = re.compile(
    rf"^(?:[ \t]{{0,3}}(?:>|[-+*][ \t]|\d{{1,9}}[.)][ \t])){{{MAX_NESTING + 1}}}", re.MULTILINE
)
_FENCE = re.compile(r"^[ \t]{0,3}(```|~~~)[^\n]*\n.*?(?:^[ \t]{0,3}\1[^\n]*$|\Z)", re.M | re.S)
INLINE_MARKUP = "[]*_`<!~\\"


def markdown_problem(text: str) -> str | None:
    """Why ``text`` would not be rendered as Markdown, or None. Linear in the text: a few
    regular-expression passes and character counts, no Python loop per character."""
    text = text or ""
    if len(text) > MAX_MARKDOWN_CHARS:
        return (
            f"is {len(text):,} characters long; Markdown is limited to "
            f"{MAX_MARKDOWN_CHARS:,} characters"
        )
    if "\x00" in text:
        return "contains a NUL character"
    if _DEEP_LINE.search(text):
        return f"nests quotes or lists deeper than {MAX_NESTING} levels on one line"
    outside_code = _FENCE.sub("", text) if "``" in text or "~~" in text else text
    markup = sum(outside_code.count(char) for char in INLINE_MARKUP)
    if markup > MAX_INLINE_MARKUP:
        return (
            f"has {markup:,} inline markup characters ({' '.join(INLINE_MARKUP)}) outside "
            f"code blocks; at most {MAX_INLINE_MARKUP:,} are rendered (put data in a ``` block)"
        )
    links = sum(outside_code.count(mark) for mark in _LINK_MARKS)
    if links > MAX_LINKS:
        return f"has {links:,} links outside code blocks; at most {MAX_LINKS:,} are rendered"
    pipes = outside_code.count("|")
    if pipes > MAX_TABLE_PIPES:
        return (
            f"has {pipes:,} table cell separators (|) outside code blocks; at most "
            f"{MAX_TABLE_PIPES:,} are rendered"
        )
    return None


def validate_markdown(text: str) -> None:
    """Django validator for form and serializer fields that hold Markdown."""
    problem = markdown_problem(text)
    if problem:
        raise ValidationError(f"This text {problem}.", code="markdown_limit")


def render_markdown(text: str) -> SafeString:
    """Markdown to sanitised HTML, marked safe for templates. A text beyond the limits (stored
    before they existed) is shown as escaped plain text, at linear cost."""
    text = text or ""
    if markdown_problem(text):
        return mark_safe(linebreaks(escape(text.replace("\x00", ""))))  # noqa: S308 - escaped
    html = cmarkgfm.markdown_to_html_with_extensions(
        text, options=CMARK_OPTIONS, extensions=CMARK_EXTENSIONS
    )
    cleaned = nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        clean_content_tags={"script", "style"},
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=ALLOWED_URL_SCHEMES,
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )
    return mark_safe(cleaned)  # noqa: S308 - nh3 output above is the sanitised HTML
