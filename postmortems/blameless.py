"""The blameless check: flag sentences that pin a failure on a person. It warns, never blocks.

A finding is a sentence in which a person (a team member's name, or he/she/they/him/her/them)
stands within a few words of blame language (forgot, failed to, careless, mistake, fault, human
error, ...). The suggestion is to describe the system condition that let it happen.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

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

_SENTENCE = re.compile(r"[^.!?\n]+[.!?]?")  # how sentences read (the tests' reference)
_WORD = re.compile(r"[\w'’-]+")


@dataclass(frozen=True)
class BlameFinding:
    field: str
    sentence: str
    person: str
    phrase: str
    highlighted: SafeString
    suggestion: str = SUGGESTION


def _trie(words: Iterable[str]) -> str:
    """One regular expression matching any of ``words``, longest first, as a prefix tree: the
    engine tests one character per branch instead of every word at every position (a flat
    alternation of thirty phrases cost 0.3 us per character of text)."""
    tree: dict = {}
    for word in words:
        node = tree
        for char in word.lower():
            node = node.setdefault(char, {})
        node[""] = {}

    def pattern(node: dict) -> str:
        branches = [re.escape(char) + pattern(child) for char, child in node.items() if char]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        return f"(?:{body})?" if "" in node else body

    # A lookahead on the first letters lets most positions fail on one character test.
    first = "".join(
        sorted({re.escape(c) for c in tree if c} | {re.escape(c.upper()) for c in tree if c})
    )
    return f"(?=[{first}]){pattern(tree)}"


def _phrase_pattern() -> re.Pattern:
    return re.compile(r"\b(" + _trie(BLAME_PHRASES) + r")\b", re.IGNORECASE)


_BLAME = _phrase_pattern()


@lru_cache(maxsize=64)
def _person_pattern(names: tuple[str, ...]) -> re.Pattern:
    """Compiled once per set of team names (the views check every field with the same set)."""
    cleaned = {n.strip() for n in names if n and len(n.strip()) >= 3}
    # Names match case-insensitively too ("alice forgot"), pronouns as whole words only.
    return re.compile(r"\b(" + _trie([*cleaned, *PRONOUNS]) + r")\b", re.IGNORECASE)


# A text with more findings than this is shown with the first ones only.
MAX_FINDINGS = 100
# Sentences holding both a person and blame language that are examined; past them the rest
# of a text is not checked (a warning, not a gate: the first ones are the ones to fix).
MAX_CANDIDATES = 200
MAX_SENTENCE_CHARS = 2_000
CHUNK_CHARS = 2_048
# Anchored at a sentence start, so a position inside a sentence fails at once (unanchored, each
# position would scan to the sentence's end: quadratic in its length).
_LONG_SENTENCE = re.compile(
    rf"(?:^|(?<=[.!?\n]))([^.!?\n]{{{MAX_SENTENCE_CHARS}}})[^.!?\n]+", re.MULTILINE
)
_BOUNDARY = re.compile(r"[.!?\n]")


def _indices(positions: list[int], starts: list[int]) -> list[int]:
    """For each position, how many of ``starts`` (ascending) lie before it."""
    return [bisect_left(starts, position) for position in positions]


def check_text(text: str, names: Iterable[str], *, field: str = "") -> list[BlameFinding]:
    """Findings in ``text``, sentence by sentence, at most MAX_FINDINGS.

    Linear in the text: sentences longer than MAX_SENTENCE_CHARS are clipped (by one regular
    expression pass: no prose sentence is that long), then the text is read in chunks of whole
    sentences until MAX_FINDINGS are found or MAX_CANDIDATES sentences holding both a person
    and blame language were examined. In a chunk, one pass per precompiled pattern (blame
    phrases, persons, words, sentence ends); sentence and word numbers of the matches by binary
    search in the sorted position lists, and the nearest person to each blame phrase by one
    pointer walk. (The old check compared every person with every blame phrase and recounted
    the words before each from the sentence start: cubic, 30 s for 4 KB.)
    """
    text = _LONG_SENTENCE.sub(r"\1", text or "")
    if not _BLAME.search(text):
        return []
    person_re = _person_pattern(tuple(sorted(set(names))))
    findings: list[BlameFinding] = []
    budget = [MAX_CANDIDATES]
    start = 0
    while start < len(text) and len(findings) < MAX_FINDINGS and budget[0] > 0:
        end = _chunk_end(text, start)
        findings += _check_chunk(
            text[start:end], person_re, field, MAX_FINDINGS - len(findings), budget
        )
        start = end
    return findings


def _chunk_end(text: str, start: int) -> int:
    """The end of the first sentence boundary at or after start + CHUNK_CHARS."""
    if start + CHUNK_CHARS >= len(text):
        return len(text)
    boundary = _BOUNDARY.search(text, start + CHUNK_CHARS)
    return boundary.end() if boundary else len(text)


def _check_chunk(
    text: str, person_re: re.Pattern, field: str, room: int, budget: list[int]
) -> list[BlameFinding]:
    """Findings in one chunk of whole sentences (see check_text), at most ``room``; each
    sentence holding both a person and blame language takes one from ``budget``."""
    text = text or ""
    blames = list(_BLAME.finditer(text))
    if not blames:
        return []
    persons = list(person_re.finditer(text))
    if not persons:
        return []
    boundaries = [m.start() for m in _BOUNDARY.finditer(text)]
    # A sentence is the text between two boundaries; a match crossing one (a name written
    # "J. Smith") belongs to no sentence, as when the text was split first.
    blames, blame_sentences = _within_sentences(blames, boundaries)
    persons, person_sentences = _within_sentences(persons, boundaries)
    word_starts = [m.start() for m in _WORD.finditer(text)]
    blame_words = _indices([m.start() for m in blames], word_starts)
    person_words = _indices([m.start() for m in persons], word_starts)

    findings: list[BlameFinding] = []
    b = p = 0
    while b < len(blames) and len(findings) < room and budget[0] > 0:
        sentence = blame_sentences[b]
        b_end = bisect_right(blame_sentences, sentence, b)
        p = bisect_left(person_sentences, sentence, p)
        p_end = bisect_right(person_sentences, sentence, p)
        if p == p_end:
            b = b_end
            continue
        budget[0] -= 1
        best = _nearest_pair(
            blames[b:b_end], blame_words[b:b_end], persons[p:p_end], person_words[p:p_end]
        )
        if best is not None:
            findings.append(_finding(text, boundaries, sentence, *best, field=field))
        b, p = b_end, p_end
    return findings


def _within_sentences(matches: list[re.Match], boundaries: list[int]):
    """The matches that lie inside one sentence, with the number of that sentence."""
    if not boundaries:
        return matches, [0] * len(matches)
    starts = _indices([m.start() for m in matches], boundaries)
    ends = _indices([m.end() for m in matches], boundaries)
    kept = [(m, s) for m, s, e in zip(matches, starts, ends, strict=True) if s == e]
    return [m for m, _ in kept], [s for _, s in kept]


def _finding(text, boundaries, sentence: int, person, blame, *, field: str) -> BlameFinding:
    start = boundaries[sentence - 1] + 1 if sentence > 0 else 0
    end = boundaries[sentence] + 1 if sentence < len(boundaries) else len(text)
    raw = text[start:end]
    if raw.endswith("\n"):
        raw = raw[:-1]
    stripped = raw.strip()
    offset = start + (len(raw) - len(raw.lstrip()))
    spans = [(m.start() - offset, m.end() - offset) for m in (person, blame)]
    return BlameFinding(
        field=field,
        sentence=stripped,
        person=person.group(0),
        phrase=blame.group(0),
        highlighted=_highlight(stripped, spans),
    )


def _nearest_pair(blames, blame_words, persons, person_words):
    """The (person, blame) pair fewest words apart, within WINDOW_WORDS; on a tie the earlier
    blame, then the earlier person. Both word lists ascend, so one pointer walks the persons."""
    # first[k]: the first person sharing person k's word index (several can start inside one
    # hyphenated word); on a tie the earliest person wins.
    first = list(range(len(persons)))
    for k in range(1, len(persons)):
        if person_words[k] == person_words[k - 1]:
            first[k] = first[k - 1]
    best, best_gap, j = None, WINDOW_WORDS + 1, 0
    for blame, at in zip(blames, blame_words, strict=True):
        while j < len(persons) and person_words[j] < at:
            j += 1
        # Candidates: the nearest person before the blame, and the first at or after it.
        for k in (first[j - 1] if j > 0 else -1, j):
            if 0 <= k < len(persons):
                gap = abs(person_words[k] - at)
                if gap < best_gap:
                    best, best_gap = (persons[k], blame), gap
        if best_gap == 0:  # nothing can be nearer, and ties go to the earlier blame
            break
    return best


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
