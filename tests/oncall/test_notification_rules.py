"""Per-severity notification rules decide which of a person's contact methods a page reaches,
and when; without rules every active method is used at once (the behaviour before rules)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from accounts.models import AuditLog, Role
from oncall.delivery import deliver_notification, requeue_due_notifications
from oncall.models import (
    ContactMethod,
    EscalationPolicy,
    Notification,
    NotificationRule,
    NotificationStatus,
)
from tests.factories import MembershipFactory
from tests.oncall.factories import (
    EscalationLevelFactory,
    EscalationPolicyFactory,
    ServiceEscalationFactory,
)
from tests.setup.conftest import HTMX, client_for

pytestmark = pytest.mark.django_db

EVERY_SEVERITY_AT_L1 = {str(n): {"start": 1, "stop": 1, "inform": []} for n in range(1, 6)}


@pytest.fixture
def paged(team, service, receiver, smtp_server, settings):
    """A responder reachable by e-mail (a real local SMTP server) and by a signed webhook (a
    real local HTTP server), paged by L1 of the service's policy for every severity."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = smtp_server.port
    settings.EMAIL_USE_TLS = False
    person = MembershipFactory(team=team, role=Role.RESPONDER).user
    email = ContactMethod.objects.create(user=person, kind="email", target="pager@example.com")
    hook = ContactMethod.objects.create(
        user=person, kind="webhook", target=receiver.url("/phone"), position=1
    )
    policy = EscalationPolicyFactory(team=team, severity_rules=EVERY_SEVERITY_AT_L1)
    EscalationLevelFactory(policy=policy, number=1, timeout_minutes=30, users=[person])
    ServiceEscalationFactory(service=service, policy=policy)
    return type("Paged", (), dict(person=person, email=email, hook=hook))


def _rule(paged, min_severity, method, delay=0):
    return NotificationRule.objects.create(
        user=paged.person, min_severity=min_severity, contact_method=method, delay_minutes=delay
    )


def test_without_rules_every_method_is_paged_at_once(
    paged, service, open_incident, receiver, smtp_server
):
    open_incident(service, severity=2)
    assert len(smtp_server.collected) == 1
    assert len(receiver.requests) == 1


def test_severity_2_and_severity_5_reach_different_methods(
    paged, service, open_incident, receiver, smtp_server
):
    _rule(paged, 4, paged.hook)  # high urgency: the webhook (a phone bridge)
    _rule(paged, 1, paged.email)  # low urgency: e-mail only
    low = open_incident(service, severity=2, title="Slow reports", dedup_key="low")
    assert [e.rcpt_tos for e in smtp_server.collected] == [["pager@example.com"]]
    assert receiver.requests == []
    high = open_incident(service, severity=5, title="Checkout down", dedup_key="high")
    assert len(smtp_server.collected) == 1, "no e-mail for the outage"
    (request,) = receiver.requests
    assert receiver.json()["incident"]["reference"] == high.reference
    assert {n.incident_id for n in Notification.objects.filter(contact_method=paged.email)} == {
        low.pk
    }


def test_a_later_step_waits_and_is_sent_by_the_sweep(
    paged, service, open_incident, receiver, smtp_server
):
    _rule(paged, 3, paged.hook)
    _rule(paged, 3, paged.email, delay=5)
    incident = open_incident(service, severity=4)
    assert len(receiver.requests) == 1 and smtp_server.collected == []
    later = Notification.objects.get(incident=incident, contact_method=paged.email)
    assert later.status == NotificationStatus.QUEUED
    assert later.next_attempt_at - later.created_at == timedelta(minutes=5)
    due = later.created_at + timedelta(minutes=5)
    assert requeue_due_notifications(now=due - timedelta(minutes=1)) == []
    assert requeue_due_notifications(now=due) == [later.pk]
    # The worker the sweep hands it to runs at that time (eager tasks here run at wall time).
    assert deliver_notification(notification_id=later.pk, now=due) == "sent"
    later.refresh_from_db()
    assert later.status == NotificationStatus.SENT
    assert len(smtp_server.collected) == 1


def test_acknowledging_cancels_the_later_step(paged, service, open_incident, committed):
    from incidents import services as incident_services
    from incidents.actors import Actor

    _rule(paged, 1, paged.hook)
    _rule(paged, 1, paged.email, delay=10)
    incident = open_incident(service, severity=3)
    committed(incident_services.acknowledge, incident=incident, actor=Actor.of_user(paged.person))
    later = Notification.objects.get(incident=incident, contact_method=paged.email)
    assert later.status == NotificationStatus.CANCELLED


def test_a_severity_below_every_rule_falls_back_to_every_method(
    paged, service, open_incident, receiver, smtp_server
):
    _rule(paged, 4, paged.hook)
    open_incident(service, severity=2)
    assert len(receiver.requests) == 1 and len(smtp_server.collected) == 1


def test_a_rule_whose_method_is_off_falls_back(
    paged, service, open_incident, receiver, smtp_server
):
    _rule(paged, 1, paged.hook)
    ContactMethod.objects.filter(pk=paged.hook.pk).update(is_active=False)
    open_incident(service, severity=3)
    assert receiver.requests == [] and len(smtp_server.collected) == 1


# --- the page -----------------------------------------------------------------------------


def test_person_adds_and_removes_rules_on_the_contact_methods_page(paged):
    client = client_for(paged.person)
    response = client.post(
        "/oncall/me/notification-rules/",
        {"min_severity": "4", "contact_method": str(paged.hook.pk), "delay_minutes": "0"},
    )
    assert response.status_code == 303
    rule = NotificationRule.objects.get(user=paged.person)
    assert (rule.min_severity, rule.contact_method, rule.delay_minutes) == (4, paged.hook, 0)
    page = client.get("/oncall/me/contact-methods/").content.decode()
    assert "5 · outage, 4 · major" in page
    assert "3 · significant, 2 · degraded, 1 · minor" in page  # shown as the default
    row = AuditLog.objects.get(action="notification_rule.added")
    assert row.actor == paged.person and row.data["min_severity"] == 4
    removed = client.post(f"/oncall/me/notification-rules/{rule.pk}/delete/")
    assert removed.status_code == 303 and not NotificationRule.objects.exists()
    assert AuditLog.objects.filter(action="notification_rule.removed").exists()


def test_rule_form_errors_and_duplicates(paged):
    client = client_for(paged.person)
    bad = client.post(
        "/oncall/me/notification-rules/",
        {"min_severity": "9", "contact_method": str(paged.hook.pk), "delay_minutes": "-1"},
    )
    assert bad.status_code == 400 and "field-error" in bad.content.decode()
    data = {"min_severity": "2", "contact_method": str(paged.email.pk), "delay_minutes": "3"}
    assert client.post("/oncall/me/notification-rules/", data).status_code == 303
    again = client.post("/oncall/me/notification-rules/", data)
    assert again.status_code == 400 and "already have this rule" in again.content.decode()
    assert NotificationRule.objects.count() == 1


def test_nobody_uses_or_removes_another_persons_methods_or_rules(paged, team):
    other = MembershipFactory(team=team).user
    client = client_for(other)
    response = client.post(
        "/oncall/me/notification-rules/",
        {"min_severity": "4", "contact_method": str(paged.hook.pk), "delay_minutes": "0"},
    )
    assert response.status_code == 400 and not NotificationRule.objects.exists()
    rule = _rule(paged, 4, paged.hook)
    assert client.post(f"/oncall/me/notification-rules/{rule.pk}/delete/").status_code == 404
    assert (
        client.post(f"/oncall/me/notification-rules/{rule.pk}/delete/", **HTMX).status_code == 404
    )
    assert client.get(f"/oncall/me/notification-rules/{rule.pk}/delete/").status_code == 405
    assert client.get("/oncall/me/notification-rules/").status_code == 405
    anonymous = client_for().post(f"/oncall/me/notification-rules/{rule.pk}/delete/")
    assert anonymous.status_code == 302 and "/login/" in anonymous["Location"]
    assert NotificationRule.objects.filter(pk=rule.pk).exists()


def test_policy_preview_shows_the_methods_the_rules_choose(paged, team, manager, service):
    _rule(paged, 4, paged.hook)
    _rule(paged, 1, paged.email, delay=2)
    policy = EscalationPolicy.objects.get(team=team)
    client = client_for(manager)
    high = client.get(f"/oncall/policies/{policy.pk}/?severity=5").content.decode()
    low = client.get(f"/oncall/policies/{policy.pk}/?severity=2").content.decode()
    assert paged.hook.target in high and "pager@example.com" not in high
    assert "pager@example.com after 2 min" in low
