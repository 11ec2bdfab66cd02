"""Acting on several incidents at once: acknowledge, resolve (one note for all) or assign.

Each incident goes through the same service as a single action (incidents.services), in its
own transaction and with the same actor, so each gets its timeline entry, audit row and events
exactly as if it had been done alone. One refused incident (already resolved, another team's
role, an assignee outside its team) is reported and the rest are still done: at 3 a.m. a storm
of fifty duplicates must not fail as a whole because one of them was resolved a second ago.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from accounts.permissions import Action, can
from config.errors import DomainError
from incidents import services
from incidents.actors import Actor
from incidents.models import Incident

# One request acts on at most this many incidents (a board page is 25 rows; a storm fits).
MAX_INCIDENTS = 200

VERBS = ("acknowledge", "resolve", "assign")


@dataclass
class BulkOutcome:
    verb: str
    done: list[Incident] = field(default_factory=list)
    # (reference, reason): a reference rather than the row, since an id the user sent may
    # name no incident of theirs at all.
    refused: list[tuple[str, str]] = field(default_factory=list)

    @property
    def summary(self) -> str:
        """One sentence for the flash: what was done, and each refusal with its reason."""
        total = len(self.done) + len(self.refused)
        past = {
            "acknowledge": _("Acknowledged"),
            "resolve": _("Resolved"),
            "assign": _("Assigned"),
        }[self.verb]
        text = ngettext(
            "%(past)s %(done)d of %(total)d incident.",
            "%(past)s %(done)d of %(total)d incidents.",
            total,
        ) % {"past": past, "done": len(self.done), "total": total}
        if self.done:
            text += " " + ", ".join(incident.reference for incident in self.done) + "."
        if self.refused:
            reasons = "; ".join(reason for _reference, reason in self.refused)
            text += " " + _("Not done: %(reasons)s.") % {"reasons": reasons}
        return text


def _each(
    incidents: Iterable[Incident],
    *,
    actor: Actor,
    verb: str,
    perform: Callable[[Incident], Incident],
) -> BulkOutcome:
    """Apply ``perform`` to each incident in turn (lowest number first, so two people acting on
    overlapping selections lock rows in the same order), collecting refusals instead of
    stopping at the first."""
    outcome = BulkOutcome(verb=verb)
    may_respond: dict[int, bool] = {}
    for incident in sorted(incidents, key=lambda i: i.pk):
        if incident.team_id not in may_respond:
            may_respond[incident.team_id] = can(actor.user, incident.team_id, Action.RESPOND)
        if not may_respond[incident.team_id]:
            outcome.refused.append(
                (
                    incident.reference,
                    _("cannot %(verb)s %(ref)s: you need the responder role in %(team)s")
                    % {"verb": verb, "ref": incident.reference, "team": incident.team},
                )
            )
            continue
        try:
            outcome.done.append(perform(incident))
        except DomainError as exc:
            # The service's message already names the incident and the reason.
            outcome.refused.append((incident.reference, exc.message))
    return outcome


def acknowledge_incidents(*, incidents: Iterable[Incident], actor: Actor) -> BulkOutcome:
    return _each(
        incidents,
        actor=actor,
        verb="acknowledge",
        perform=lambda incident: services.acknowledge(incident=incident, actor=actor),
    )


def resolve_incidents(
    *, incidents: Iterable[Incident], actor: Actor, note: str = ""
) -> BulkOutcome:
    """Resolve each with the same note (what fixed them all)."""
    return _each(
        incidents,
        actor=actor,
        verb="resolve",
        perform=lambda incident: services.resolve(incident=incident, actor=actor, note=note),
    )


def assign_incidents(*, incidents: Iterable[Incident], assignee, actor: Actor) -> BulkOutcome:
    """Assign each to ``assignee`` (None unassigns); the service refuses an incident whose team
    the assignee cannot respond in, or one already assigned to them."""
    return _each(
        incidents,
        actor=actor,
        verb="assign",
        perform=lambda incident: services.assign(incident=incident, assignee=assignee, actor=actor),
    )
