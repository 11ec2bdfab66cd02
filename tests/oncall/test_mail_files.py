"""Development mail goes to files under the data dir, linked from the delivery (issue 17)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from django.template.loader import render_to_string
from django.test import Client

from accounts.models import Role
from oncall.delivery import deliver_notification
from oncall.models import Notification
from tests.factories import UserFactory
from tests.oncall.test_delivery import incident, notify  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db


@pytest.fixture
def mail_dir(settings, tmp_path):
    settings.EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    settings.EMAIL_FILE_PATH = tmp_path / "mail"
    return tmp_path / "mail"


def test_email_is_written_to_a_file_the_delivery_links_to(incident, mail_dir, team, caplog):  # noqa: F811
    user = UserFactory(email="alice@example.com")
    team.memberships.create(user=user, role=Role.RESPONDER)
    (row,) = notify(incident, users=[user])
    with caplog.at_level(logging.INFO):
        assert deliver_notification(notification_id=row.pk) == "sent"

    row.refresh_from_db()
    written = Path(row.written_to)
    assert written.parent == mail_dir and written.is_file()
    assert "To: alice@example.com" in written.read_text()
    entry = incident.timeline.get(kind="notification_sent")
    assert str(written) in entry.message and entry.data["written_to"] == str(written)
    # One INFO line for the delivery, naming the incident and the file.
    lines = [r for r in caplog.records if r.name == "oncall.delivery"]
    assert len(lines) == 1 and lines[0].levelno == logging.INFO
    assert incident.reference in lines[0].getMessage() and str(written) in lines[0].getMessage()

    client = Client()
    client.force_login(user)
    served = client.get(f"/oncall/notifications/{row.pk}/mail/")
    assert served.status_code == 200 and "To: alice@example.com" in served.content.decode()
    panel = render_to_string(
        "oncall/_incident_panel.html", {"notifications": [row], "state": None, "level_name": "L2"}
    )
    assert f"/oncall/notifications/{row.pk}/mail/" in panel and str(written) in panel


def test_mail_file_is_served_only_to_the_team_and_only_from_the_mail_dir(
    incident,  # noqa: F811
    mail_dir,
    team,
    outsider,
    tmp_path,
):
    member = UserFactory()
    team.memberships.create(user=member, role=Role.RESPONDER)
    (row,) = notify(incident, users=[UserFactory(email="bob@example.com")])
    deliver_notification(notification_id=row.pk)
    row.refresh_from_db()
    outside = Client()
    outside.force_login(outsider)
    assert outside.get(f"/oncall/notifications/{row.pk}/mail/").status_code == 404
    assert Client().get(f"/oncall/notifications/{row.pk}/mail/").status_code == 302

    secret = tmp_path / "secret_key"
    secret.write_text("do not serve")
    Notification.objects.filter(pk=row.pk).update(written_to=str(secret))
    inside = Client()
    inside.force_login(member)
    assert inside.get(f"/oncall/notifications/{row.pk}/mail/").status_code == 404
    assert inside.post(f"/oncall/notifications/{row.pk}/mail/").status_code == 405


def test_failed_delivery_for_good_is_one_warning(incident, settings, caplog):  # noqa: F811
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 9, 1
    settings.ONCALL_DELIVERY_MAX_ATTEMPTS = 1
    (row,) = notify(incident, users=[UserFactory(email="carol@example.com")])
    with caplog.at_level(logging.INFO):
        assert deliver_notification(notification_id=row.pk) == "failed"
    lines = [r for r in caplog.records if r.name == "oncall.delivery"]
    assert [r.levelno for r in lines] == [logging.WARNING]
    assert "failed for good" in lines[0].getMessage()
    row.refresh_from_db()
    assert row.written_to == ""
