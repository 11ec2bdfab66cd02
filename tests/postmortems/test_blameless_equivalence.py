"""The linear blameless check finds exactly what the old pairwise one found (issue 11, part 3).
Its speed is shown by ``make bench-text``, not by a timed test."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from postmortems.blameless import (
    _BLAME,
    _SENTENCE,
    _WORD,
    MAX_CANDIDATES,
    MAX_FINDINGS,
    WINDOW_WORDS,
    _person_pattern,
    check_text,
)

NAMES = ["alice", "Bob Martin", "bob", "Al"]


def reference(text: str, names: list[str]) -> list[tuple[str, str, str]]:
    """The pre-rewrite algorithm (cubic): every pair, words recounted from the sentence start."""
    person_re = _person_pattern(tuple(sorted(set(names))))
    found = []
    for match in _SENTENCE.finditer(text or ""):
        sentence = match.group(0).strip()
        if not sentence:
            continue
        best = None
        for blame in _BLAME.finditer(sentence):
            for person in person_re.finditer(sentence):
                gap = abs(
                    len(_WORD.findall(sentence[: blame.start()]))
                    - len(_WORD.findall(sentence[: person.start()]))
                )
                if gap <= WINDOW_WORDS and (best is None or gap < best[0]):
                    best = (gap, person, blame)
        if best is not None:
            found.append((sentence, best[1].group(0), best[2].group(0)))
    return found


VOCABULARY = [
    "alice", "Alice", "bob", "Bob Martin", "he", "she", "they", "their", "forgot", "failed to",
    "human error", "mistake", "the", "deploy", "pipeline", "restarted", "service", "was",
    "careless", "should have known", "-", "'", ".", "!", "?", "\n", "he-forgot", "alice's", "x",
    " ", "...", "Alice.", "\n\n", "forgot.",
]  # fmt: skip


@settings(max_examples=500)
@given(st.lists(st.sampled_from(VOCABULARY), max_size=40), st.sampled_from([" ", "-", "  "]))
def test_linear_check_agrees_with_the_pairwise_reference(words, glue):
    text = glue.join(words)
    got = [(f.sentence, f.person, f.phrase) for f in check_text(text, NAMES)]
    assert got == reference(text, NAMES)


def test_one_long_sentence_of_blame_is_one_finding():
    [finding] = check_text("he forgot " * 10_000, NAMES)
    assert (finding.person, finding.phrase) == ("he", "forgot")


def test_hyphenated_run_of_names_and_blame_is_one_finding():
    [finding] = check_text("-".join(["alice", "forgot"] * 5_000), NAMES)
    assert (finding.person, finding.phrase) == ("alice", "forgot")


def test_findings_stop_at_the_documented_caps():
    findings = check_text("he forgot. " * 500, NAMES)
    assert len(findings) == MAX_FINDINGS
    # Sentences with a person and blame language but no finding still use up the examination
    # budget: past it, the rest of the text is not checked.
    near_misses = "he a b c d e f g forgot. " * MAX_CANDIDATES
    assert check_text(near_misses + "alice forgot.", NAMES) == []
    assert len(check_text(near_misses[:-100] + " alice forgot.", NAMES)) == 1
