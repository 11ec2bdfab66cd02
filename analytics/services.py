"""The verbs of incident scoring: assess the impact, accept or override the suggestion.

Each runs in one transaction with the incident row locked (so two assessments cannot both be
pending), writes the timeline entry and the audit row.
"""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts import audit
from analytics.models import Decision, ImpactAssessment
from analytics.scoring import FAILOVER_LABELS, ImpactInputs, score
from config.errors import Conflict, InvalidInput
from incidents import services as incident_services
from incidents.actors import Actor
from incidents.models import Incident, Severity


def _audit(action: str, *, incident: Incident, actor: Actor, data: dict) -> None:
    audit.record(
        action=action,
        actor=actor.user_or_none,
        actor_label=actor.label,
        ip=actor.ip,
        team=incident.team,
        target=incident.reference,
        data=data,
    )


def _describe(assessment: ImpactAssessment) -> str:
    return _(
        "%(users)s %% of users, %(revenue)s €/h at risk, %(loss)s, failover tier %(tier)s, "
        "%(facing)s"
    ) % {
        "users": assessment.users_affected_percent,
        "revenue": assessment.revenue_per_hour,
        "loss": _("data lost") if assessment.data_loss else _("no data lost"),
        "tier": FAILOVER_LABELS[assessment.failover_tier],
        "facing": _("customer-facing") if assessment.customer_facing else _("internal"),
    }


def assess_impact(
    *,
    incident: Incident,
    actor: Actor,
    users_affected_percent: int,
    data_loss: bool = False,
    failover_tier: int = 0,
    customer_facing: bool = True,
    now: datetime | None = None,
) -> ImpactAssessment:
    """Score the incident's impact now and record the suggested severity (superseding a
    suggestion nobody decided on)."""
    if not 0 <= int(users_affected_percent) <= 100:
        raise InvalidInput(_("users_affected_percent: give 0 to 100"))
    if int(failover_tier) not in FAILOVER_LABELS:
        raise InvalidInput(_("failover_tier: give 0 (primary) to 3 (none left)"))
    now = now or timezone.now()
    with transaction.atomic():
        incident = (
            Incident.objects.select_for_update(of=("self",))
            .select_related("service", "team")
            .get(pk=incident.pk)
        )
        duration = now - incident.triggered_at
        if incident.resolved_at is not None:
            duration = incident.resolved_at - incident.triggered_at
        inputs = ImpactInputs(
            users_affected_percent=int(users_affected_percent),
            revenue_per_hour=incident.service.downtime_cost_per_hour,
            data_loss=bool(data_loss),
            failover_tier=int(failover_tier),
            duration=duration,
            customer_facing=bool(customer_facing),
        )
        result = score(inputs)
        ImpactAssessment.objects.filter(incident=incident, decision=Decision.PENDING).update(
            decision=Decision.SUPERSEDED
        )
        assessment = ImpactAssessment.objects.create(
            incident=incident,
            users_affected_percent=inputs.users_affected_percent,
            revenue_per_hour=inputs.revenue_per_hour,
            data_loss=inputs.data_loss,
            failover_tier=inputs.failover_tier,
            duration_seconds=min(int(max(duration.total_seconds(), 0)), 2**31 - 1),
            customer_facing=inputs.customer_facing,
            points=result.points,
            suggested_severity=result.severity,
            severity_at_assessment=incident.severity,
            created_by=actor.user_or_none,
            created_at=now,
        )
        incident_services.record(
            incident=incident,
            kind="severity_suggested",
            actor=actor,
            at=now,
            message=_(
                "Impact score %(points)s suggests severity %(suggested)s (%(label)s); "
                "now %(current)s. %(inputs)s"
            )
            % {
                "points": result.points,
                "suggested": result.severity,
                "label": Severity(result.severity).label,
                "current": incident.severity,
                "inputs": _describe(assessment),
            },
            data={
                "assessment_id": assessment.pk,
                "points": result.points,
                "parts": result.parts,
                "suggested": result.severity,
            },  # fmt: skip
        )
        _audit("incident.severity_suggested", incident=incident, actor=actor,
               data={"points": result.points, "suggested": result.severity})  # fmt: skip
    return assessment


def _locked_pending(assessment: ImpactAssessment) -> ImpactAssessment:
    locked = ImpactAssessment.objects.select_for_update().get(pk=assessment.pk)
    if locked.decision != Decision.PENDING:
        raise Conflict(
            _("cannot decide on this suggestion: it was already %(decision)s")
            % {"decision": locked.get_decision_display()}
        )
    return locked


def accept_suggestion(*, assessment: ImpactAssessment, actor: Actor) -> Incident:
    """One click: the incident takes the suggested severity; the timeline says who accepted."""
    with transaction.atomic():
        incident = Incident.objects.select_for_update().get(pk=assessment.incident_id)
        assessment = _locked_pending(assessment)
        assessment.decision = Decision.ACCEPTED
        assessment.decided_by = actor.user_or_none
        assessment.decided_at = timezone.now()
        assessment.save(update_fields=["decision", "decided_by", "decided_at"])
        reason = _("accepted the impact score's suggestion (%(points)s points)") % {
            "points": assessment.points
        }
        if incident.severity != assessment.suggested_severity:
            incident = incident_services.change_severity(
                incident=incident, severity=assessment.suggested_severity, actor=actor,
                reason=reason,
            )  # fmt: skip
        else:
            incident_services.record(
                incident=incident,
                kind="severity_suggestion_accepted",
                actor=actor,
                message=_("%(actor)s confirmed severity %(severity)s: %(reason)s")
                % {"actor": actor, "severity": incident.severity, "reason": reason},
                data={"assessment_id": assessment.pk},
            )
        _audit("incident.severity_suggestion_accepted", incident=incident, actor=actor,
               data={"assessment_id": assessment.pk})  # fmt: skip
    return incident


def override_suggestion(*, assessment: ImpactAssessment, actor: Actor, note: str = "") -> Incident:
    """Keep the incident's severity against the suggestion; the timeline says who and why."""
    with transaction.atomic():
        incident = Incident.objects.select_for_update().get(pk=assessment.incident_id)
        assessment = _locked_pending(assessment)
        assessment.decision = Decision.OVERRIDDEN
        assessment.decided_by = actor.user_or_none
        assessment.decided_at = timezone.now()
        assessment.save(update_fields=["decision", "decided_by", "decided_at"])
        message = _("%(actor)s kept severity %(current)s against the suggested %(suggested)s") % {
            "actor": actor,
            "current": incident.severity,
            "suggested": assessment.suggested_severity,
        }
        note = (note or "").replace("\x00", "").strip()[:500]
        if note:
            message += f": {note}"
        incident_services.record(
            incident=incident,
            kind="severity_suggestion_overridden",
            actor=actor,
            message=message,
            data={"assessment_id": assessment.pk, "note": note},
        )
        _audit("incident.severity_suggestion_overridden", incident=incident, actor=actor,
               data={"assessment_id": assessment.pk})  # fmt: skip
    return incident


def decide_on_score(
    *,
    incident: Incident,
    actor: Actor,
    accept: bool,
    users_affected_percent: int,
    data_loss: bool = False,
    failover_tier: int = 0,
    customer_facing: bool = True,
    note: str = "",
) -> Incident:
    """The room's one click: score these inputs now and accept (or keep the current severity
    against) the suggestion, in one transaction: the timeline shows the suggestion and who
    decided."""
    with transaction.atomic():
        assessment = assess_impact(
            incident=incident,
            actor=actor,
            users_affected_percent=users_affected_percent,
            data_loss=data_loss,
            failover_tier=failover_tier,
            customer_facing=customer_facing,
        )
        if accept:
            return accept_suggestion(assessment=assessment, actor=actor)
        return override_suggestion(assessment=assessment, actor=actor, note=note)
