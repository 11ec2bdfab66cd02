from datetime import timedelta

import pytest
from django.utils import timezone
from freezegun import freeze_time

from accounts.models import AuditLog
from incidents.actors import Actor
from runbooks.models import Runbook
from runbooks.services import (
    RunbookError,
    RunbookInput,
    mark_reviewed,
    parse_label_matchers,
    revision_diff,
    update_runbook,
)
from tests.runbooks.factories import make_runbook, step

pytestmark = pytest.mark.django_db


def edit(runbook, by, **changes):
    data = RunbookInput(
        title=changes.pop("title", runbook.title),
        body=changes.pop("body", runbook.body),
        steps=changes.pop(
            "steps", [step(s.title, body=s.body, id=s.pk) for s in runbook.steps.all()]
        ),
        **changes,
    )
    return update_runbook(runbook=runbook, data=data, actor=Actor.of_user(by), note="tightened")


def test_every_edit_keeps_a_revision_with_author_and_a_readable_diff(team, manager):
    runbook = make_runbook(team, manager, body="Restart the gateway.", steps=[step("Drain")])
    assert runbook.revisions.count() == 1
    edit(
        runbook,
        manager,
        body="Restart the gateway.\nThen warm the cache.",
        steps=[step("Drain"), step("Warm cache")],
    )
    runbook.refresh_from_db()
    assert runbook.version == 2
    first, second = runbook.revisions.order_by("number")
    assert (second.number, second.author, second.note) == (2, manager, "tightened")
    diff = revision_diff(first.content, second.content)
    assert ("add", "+Then warm the cache.") in diff
    assert ("add", "+## Step 2: Warm cache") in diff
    assert not any(kind == "del" for kind, _ in diff)
    assert AuditLog.objects.filter(action="runbook.updated", actor=manager, team=team).count() == 1


def test_saving_without_changes_adds_no_revision(team, manager):
    runbook = make_runbook(team, manager)
    edit(runbook, manager)
    runbook.refresh_from_db()
    assert runbook.version == 1 and runbook.revisions.count() == 1


def test_removed_step_shows_as_deletion(team, manager):
    runbook = make_runbook(team, manager, steps=[step("Drain"), step("Page the vendor")])
    edit(runbook, manager, steps=[step("Drain", id=runbook.steps.first().pk)])
    old, new = runbook.revisions.order_by("number")
    assert ("del", "-## Step 2: Page the vendor") in revision_diff(old.content, new.content)
    assert list(runbook.steps.values_list("title", flat=True)) == ["Drain"]


def test_secrets_are_kept_when_the_form_leaves_them_empty_and_never_in_revisions(team, manager):
    runbook = make_runbook(
        team,
        manager,
        steps=[step("Restart", action_url="https://ops.example/restart", action_secret="s3cret")],
    )
    s = runbook.steps.get()
    edit(runbook, manager, steps=[step("Restart now", id=s.pk, action_url=s.action_url)])
    s.refresh_from_db()
    assert s.action_secret == "s3cret"
    assert all("s3cret" not in r.content for r in runbook.revisions.all())
    assert all("s3cret" not in str(a.data) for a in AuditLog.objects.all())


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"title": " "}, "needs a title"),
        ({"min_severity": 4, "max_severity": 2}, "severity range"),
        ({"steps": [step("x", action_body="{not json")]}, "not JSON"),
        ({"steps": [step("x", action_body="[1]", action_url="https://a.example")]}, "JSON object"),
        ({"steps": [step("x", run_automatically=True)]}, "needs a URL"),
        ({"steps": [step("x", action_url="ftp://a.example")]}, "http"),
    ],
)
def test_invalid_runbooks_are_refused_with_a_reason(team, manager, fields, message):
    with pytest.raises(RunbookError, match=message):
        make_runbook(team, manager, **fields)
    assert not Runbook.objects.exists()


def test_label_matchers_parse_and_reject_garbage():
    assert parse_label_matchers('alertname=HighLatency\nenv = prod, team="ai"') == {
        "alertname": "HighLatency",
        "env": "prod",
        "team": "ai",
    }
    with pytest.raises(RunbookError, match="name=value"):
        parse_label_matchers("just words")


def test_review_cadence_defaults_to_90_days_and_overdue_list(team, manager):
    with freeze_time("2026-01-01 12:00"):
        old = make_runbook(team, manager, title="Old")
    with freeze_time("2026-03-15 12:00"):
        fresh = make_runbook(team, manager, title="Fresh")
    assert old.review_interval_days == 90
    with freeze_time("2026-04-10 12:00"):
        assert list(Runbook.objects.review_overdue()) == [old]
        assert old.is_review_overdue and not fresh.is_review_overdue
        mark_reviewed(runbook=old, actor=Actor.of_user(manager))
        old.refresh_from_db()
        assert old.next_review_at == timezone.now() + timedelta(days=90)
        assert not Runbook.objects.review_overdue().exists()
    assert AuditLog.objects.filter(action="runbook.reviewed").count() == 1
