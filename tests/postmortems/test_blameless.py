import pytest

from postmortems.blameless import check_text

NAMES = ["alice", "Alice", "Bob Martin", "bob"]


@pytest.mark.parametrize(
    ("text", "person", "phrase"),
    [
        ("Alice forgot to renew the API key.", "Alice", "forgot"),
        ("The rollback was late because he failed to read the alert.", "he", "failed to"),
        ("It was Bob's mistake.", "Bob", "mistake"),
        ("She was careless with the config.", "She", "careless"),
        ("Root cause: human error by alice during the deploy.", "alice", "human error"),
        ("They should have known better, and it was their fault.", "They", "should have known"),
    ],
)
def test_blaming_sentences_are_flagged_with_the_words_highlighted(text, person, phrase):
    [finding] = check_text(text, NAMES, field="summary")
    assert finding.person.lower() == person.lower()
    assert finding.phrase.lower() == phrase.lower()
    assert "<mark>" in finding.highlighted
    assert "system" in finding.suggestion


@pytest.mark.parametrize(
    "text",
    [
        "The deploy pipeline failed to run the smoke test.",
        "The key expired because no alert watched its expiry date.",
        "Alice restored the service within ten minutes.",
        "A configuration mistake reached production because review was optional.",
        "",
    ],
)
def test_system_descriptions_pass(text):
    assert check_text(text, NAMES) == []


def test_person_far_from_blame_word_is_not_flagged():
    text = "Alice paged the provider, waited, escalated twice, then at last the vendor admitted a fault."
    assert check_text(text, NAMES) == []


def test_highlight_escapes_html():
    [finding] = check_text("<b>Alice</b> forgot <script>x</script>.", NAMES)
    assert "<script>" not in finding.highlighted and "&lt;script&gt;" in finding.highlighted
