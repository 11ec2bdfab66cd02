from datetime import timedelta
from decimal import Decimal

import pytest

from incidents.actors import Actor
from postmortems.facts import MET, MISSED, UNKNOWN, human_duration, measure
from tests.postmortems.factories import T0, draft_for, resolved_incident

pytestmark = pytest.mark.django_db


def test_durations_come_from_the_incident_timestamps(service, responder):
    postmortem = draft_for(service, responder, ack=4, mitigate=25, resolve=90)
    facts = measure(postmortem)
    assert facts.impact_started_at == T0
    assert facts.time_to_detect == timedelta(0)
    assert facts.time_to_acknowledge == timedelta(minutes=4)
    assert facts.time_to_mitigate == timedelta(minutes=25)
    assert facts.time_to_recover == timedelta(minutes=90)


def test_recorded_impact_start_moves_detect_mitigate_and_recover(service, responder):
    postmortem = draft_for(service, responder, ack=4, mitigate=25, resolve=50)
    postmortem.impact_started_at = T0 - timedelta(minutes=12)
    facts = measure(postmortem)
    assert facts.time_to_detect == timedelta(minutes=12)
    assert facts.time_to_acknowledge == timedelta(minutes=4)  # from detection
    assert facts.time_to_mitigate == timedelta(minutes=37)
    assert facts.time_to_recover == timedelta(minutes=62)


def test_rto_met_and_missed_by_how_much(service, responder):
    service.rto_minutes = 60
    service.save()
    met = measure(draft_for(service, responder, resolve=45))
    assert met.rto.state == MET and met.rto.margin == timedelta(minutes=-15)
    missed = measure(draft_for(service, responder, resolve=100, title="Again"))
    assert missed.rto.state == MISSED and missed.rto.missed_by == timedelta(minutes=40)


def test_rto_unknown_without_target_or_while_open(service, responder):
    service.rto_minutes = None
    service.save()
    assert measure(draft_for(service, responder)).rto.state == UNKNOWN
    service.rto_minutes = 60
    service.save()
    from postmortems.services import create_draft

    open_incident = resolved_incident(service, responder, resolve=None, title="Open")
    postmortem, _ = create_draft(incident=open_incident, actor=Actor.of_user(responder))
    facts = measure(postmortem)
    assert facts.rto.state == UNKNOWN and facts.rto.reason == "not resolved yet"
    assert facts.downtime_cost is None


def test_rpo_verdict_from_the_recorded_data_loss_window(service, responder):
    service.rpo_minutes = 15
    service.save()
    postmortem = draft_for(service, responder)
    assert measure(postmortem).rpo.state == UNKNOWN
    postmortem.data_loss_from = T0 - timedelta(minutes=5)
    postmortem.data_loss_until = T0 + timedelta(minutes=5)
    facts = measure(postmortem)
    assert facts.data_loss == timedelta(minutes=10) and facts.rpo.state == MET
    postmortem.data_loss_until = T0 + timedelta(minutes=30)
    facts = measure(postmortem)
    assert facts.rpo.state == MISSED and facts.rpo.missed_by == timedelta(minutes=20)


def test_cost_is_recovery_time_times_cost_per_hour(service, responder):
    service.downtime_cost_per_hour = Decimal("600.00")
    service.save()
    facts = measure(draft_for(service, responder, resolve=90))
    assert facts.downtime_cost == Decimal("900.00")
    odd = measure(draft_for(service, responder, resolve=7, title="short"))
    assert odd.downtime_cost == Decimal("70.00")


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, "—"),
        (timedelta(seconds=45), "45 s"),
        (timedelta(minutes=12), "12 min"),
        (timedelta(minutes=12, seconds=30), "12 min 30 s"),
        (timedelta(hours=4, minutes=5), "4 h 05 min"),
        (timedelta(days=1, hours=2), "1 d 2 h 00 min"),
        (timedelta(minutes=-15), "-15 min"),
    ],
)
def test_human_duration(value, text):
    assert human_duration(value) == text
