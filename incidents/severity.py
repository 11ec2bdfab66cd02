"""The word beside every severity number ("5 · outage").

Vigil's scale follows the plan it implements (1 minor ... 5 complete outage), while people from
PagerDuty and incident.io read "SEV1" as the worst: a number shown alone misleads, so pages show
it with its word.
"""

from __future__ import annotations

# One table of words, beside the Severity choices it names.
from incidents.models import SEVERITY_WORDS


def severity_text(severity: int) -> str:
    """``5 · outage``; a number outside 1-5 is shown as it is."""
    word = SEVERITY_WORDS.get(severity)
    return f"{severity} · {word}" if word else str(severity)


def severity_choices(*, worst_first: bool = True) -> list[tuple[int, str]]:
    numbers = sorted(SEVERITY_WORDS, reverse=worst_first)
    return [(n, severity_text(n)) for n in numbers]
