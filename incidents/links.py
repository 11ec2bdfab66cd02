"""Related incidents: "see also" links between incidents of one team (not duplicates: those
are merged, incidents.merging). A link is symmetric and stored once, lower id first."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from incidents.actors import Actor
from incidents.errors import InvalidIncidentInput, InvalidTransition
from incidents.models import Incident, IncidentLink
from incidents.services import record

MAX_SHOWN = 50


def _locked_pair(incident: Incident, other: Incident) -> tuple[Incident, Incident]:
    rows = {
        row.pk: row
        for row in Incident.objects.select_for_update()
        .filter(pk__in=[incident.pk, other.pk])
        .order_by("pk")
    }
    return rows[incident.pk], rows[other.pk]


def _pair(incident: Incident, other: Incident) -> dict:
    low, high = sorted((incident.pk, other.pk))
    return {"first_id": low, "second_id": high}


def _touch(now, *incidents: Incident) -> None:
    Incident.objects.filter(pk__in=[i.pk for i in incidents]).update(updated_at=now)


def link_incidents(*, incident: Incident, other: Incident, actor: Actor) -> IncidentLink:
    if incident.pk == other.pk:
        raise InvalidIncidentInput(f"cannot link {incident.reference} to itself")
    try:
        with transaction.atomic():
            incident, other = _locked_pair(incident, other)
            if incident.team_id != other.team_id:
                raise InvalidTransition(
                    f"cannot link {incident.reference} to {other.reference}: "
                    "only incidents of one team can be linked"
                )
            if IncidentLink.objects.filter(**_pair(incident, other)).exists():
                raise InvalidTransition(
                    f"{incident.reference} is already linked to {other.reference}"
                )
            now = timezone.now()
            link = IncidentLink.objects.create(
                **_pair(incident, other), created_at=now, created_by=actor.user_or_none
            )
            _touch(now, incident, other)
            for here, there in ((incident, other), (other, incident)):
                record(
                    incident=here,
                    kind="linked",
                    actor=actor,
                    at=now,
                    message=f"Linked to {there.reference} ({there.title}) by {actor}",
                    data={"other_id": there.pk},
                )
            return link
    except IntegrityError:  # a concurrent link of the same pair won
        raise InvalidTransition(
            f"{incident.reference} is already linked to {other.reference}"
        ) from None


@transaction.atomic
def unlink_incidents(*, incident: Incident, other: Incident, actor: Actor) -> None:
    incident, other = _locked_pair(incident, other)
    deleted, _ = IncidentLink.objects.filter(**_pair(incident, other)).delete()
    if not deleted:
        raise InvalidTransition(f"{incident.reference} is not linked to {other.reference}")
    now = timezone.now()
    _touch(now, incident, other)
    for here, there in ((incident, other), (other, incident)):
        record(
            incident=here,
            kind="unlinked",
            actor=actor,
            at=now,
            message=f"Link to {there.reference} removed by {actor}",
            data={"other_id": there.pk},
        )


def linked_incidents(incident: Incident) -> list[Incident]:
    """The incidents linked to ``incident``, newest first (one query)."""
    return list(
        Incident.objects.filter(
            Q(pk__in=IncidentLink.objects.filter(first=incident).values("second_id"))
            | Q(pk__in=IncidentLink.objects.filter(second=incident).values("first_id"))
        )
        .select_related("service")
        .order_by("-triggered_at", "-id")[:MAX_SHOWN]
    )
