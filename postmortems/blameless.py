"""The blameless check: flag sentences that pin a failure on a person. It warns, never blocks.

A finding is a sentence in which a person (a team member's name, or he/she/they/him/her/them)
stands within a few words of blame language (forgot, failed to, careless, mistake, fault, human
error, ...). The suggestion is to describe the system condition that let it happen.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from postmortems.models import PROSE_FIELDS

BLAME_PHRASES = [
    "forgot", "forgets", "forget", "forgotten", "failed to", "fails to", "careless", "carelessly",
    "carelessness", "mistake", "mistakes", "fault", "faulty judgement", "human error", "neglected",
    "negligent", "negligence", "sloppy", "blame", "to blame", "screwed up", "messed up",
    "should have known", "didn't bother", "did not bother", "incompetent", "ignored",
]  # fmt: skip
PRONOUNS = ["he", "she", "they", "him", "her", "them", "his", "their"]
# A person and blame language this many words apart or closer count as "next to" each other.
WINDOW_WORDS = 6

SUGGESTION = (
    "Describe the system condition instead of the person: what made the step easy to miss, "
    "which safeguard or check was absent, what the tooling allowed."
)

_SENTENCE = re.compile(r"[^.!?\n]+[.!?]?")
_WORD = re.compile(r"[\w'’-]+")


@dataclass(frozen=True)
class BlameFinding:
    field: str
    sentence: str
    person: str
    phrase: str
    highlighted: SafeString
    suggestion: str = SUGGESTION


def _phrase_pattern() -> re.Pattern:
    phrases = sorted(BLAME_PHRASES, key=len, reverse=True)
    return re.compile(r"\b(" + "|".join(re.escape(p) for p in phrases) + r")\b", re.IGNORECASE)


_BLAME = _phrase_pattern()


def _person_pattern(names: Iterable[str]) -> re.Pattern:
    cleaned = {n.strip() for n in names if n and len(n.strip()) >= 3}
    alternatives = sorted(cleaned, key=len, reverse=True)
    name_part = "|".join(re.escape(n) for n in alternatives)
    pronoun_part = "|".join(PRONOUNS)
    # Names match case-insensitively too ("alice forgot"), pronouns as whole words only.
    body = f"(?:{name_part})|(?:{pronoun_part})" if name_part else f"(?:{pronoun_part})"
    return re.compile(r"\b(" + body + r")\b", re.IGNORECASE)


def _word_index(sentence: str, offset: int) -> int:
    return len(_WORD.findall(sentence[:offset]))


def check_text(text: str, names: Iterable[str], *, field: str = "") -> list[BlameFinding]:
    person_re = _person_pattern(names)
    findings = []
    for match in _SENTENCE.finditer(text or ""):
        sentence = match.group(0).strip()
        if not sentence:
            continue
        blames = list(_BLAME.finditer(sentence))
        if not blames:
            continue
        persons = list(person_re.finditer(sentence))
        best = None
        for blame in blames:
            for person in persons:
                gap = abs(
                    _word_index(sentence, blame.start()) - _word_index(sentence, person.start())
                )
                if gap <= WINDOW_WORDS and (best is None or gap < best[0]):
                    best = (gap, person, blame)
        if best is None:
            continue
        _, person, blame = best
        findings.append(
            BlameFinding(
                field=field,
                sentence=sentence,
                person=person.group(0),
                phrase=blame.group(0),
                highlighted=_highlight(sentence, [person.span(), blame.span()]),
            )
        )
    return findings


def _highlight(sentence: str, spans: list[tuple[int, int]]) -> SafeString:
    parts, last = [], 0
    for start, end in sorted(spans):
        if start < last:
            continue
        parts.append(escape(sentence[last:start]))
        parts.append(f"<mark>{escape(sentence[start:end])}</mark>")
        last = end
    parts.append(escape(sentence[last:]))
    return mark_safe("".join(parts))  # noqa: S308 - every piece escaped above


def check_postmortem(postmortem, names: Iterable[str]) -> list[BlameFinding]:
    """Findings across the post-mortem's prose, its 5-Why answers and factor descriptions."""
    names = list(names)
    findings = []
    for field in PROSE_FIELDS:
        findings += check_text(getattr(postmortem, field), names, field=field)
    for node in postmortem.whys.all():
        findings += check_text(f"{node.question} {node.answer}", names, field="5 whys")
    for factor in postmortem.factors.all():
        findings += check_text(factor.description, names, field="contributing factors")
    return findings


def names_of_team(team_id: int) -> list[str]:
    from accounts.models import Membership

    names = []
    for m in Membership.objects.filter(team_id=team_id).select_related("user"):
        user = m.user
        names += [user.username, user.first_name, user.last_name, user.display_name]
    return [n for n in names if n]
