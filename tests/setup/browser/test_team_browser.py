"""Team administration in a real browser: an admin makes an invite link, a new person registers
through it in another browser, the admin changes their role (htmx) and revokes another invite."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from accounts.models import AuditLog, Membership, Role, TeamInvite, User

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_invite_register_change_role_and_revoke(
    live_server, new_page, login, team_admin, team, artifacts
):
    admin = login(new_page(), team_admin)
    admin.goto(f"{live_server.url}/team/")
    admin.wait_for_url(f"{live_server.url}/teams/{team.slug}/")
    admin.select_option("#id_role", str(Role.RESPONDER.value))
    admin.fill("#id_email", "riley@example.com")
    admin.click("button:has-text('Make invite link')")
    expect(admin.locator("#invite-issued")).to_be_visible()
    link = admin.locator("#invite-link").inner_text().strip()
    assert link.startswith(f"{live_server.url}/invite/")
    admin.screenshot(path=artifacts / "team-invite-link.png", full_page=True)

    newcomer = new_page()
    newcomer.goto(link)
    expect(newcomer.locator("h1")).to_contain_text(team.name)
    expect(newcomer.locator("#id_email")).to_have_value("riley@example.com")
    newcomer.fill("#id_username", "riley")
    newcomer.fill("#id_display_name", "Riley")
    newcomer.fill("#id_password1", "a long enough passphrase")
    newcomer.fill("#id_password2", "a long enough passphrase")
    newcomer.click("button:has-text('Create account and join')")
    newcomer.wait_for_url(f"{live_server.url}/teams/{team.slug}/")
    expect(newcomer.locator("#members")).to_contain_text("Riley")
    riley = User.objects.get(username="riley")
    membership = Membership.objects.get(user=riley, team=team)
    assert membership.role == Role.RESPONDER

    # The link is spent: opening it again says so.
    again = new_page()
    again.goto(link)
    expect(again.locator("#invite .error")).to_contain_text("already used")

    # The admin makes Riley a manager without a page load (htmx swaps the members table).
    admin.goto(f"{live_server.url}/teams/{team.slug}/")
    row = admin.locator(f"#member-{membership.pk}")
    row.locator("select[name=role]").select_option(str(Role.MANAGER.value))
    row.locator("button:has-text('Change role')").click()
    expect(admin.locator(f"#member-{membership.pk} .pill").first).to_have_text("manager")
    membership.refresh_from_db()
    assert membership.role == Role.MANAGER

    # A second invite, revoked from the list.
    admin.click("button:has-text('Make invite link')")
    expect(admin.locator("#invite-issued")).to_be_visible()
    pending = TeamInvite.objects.filter(team=team, used_at=None).get()
    admin.locator(f"#invite-{pending.pk} button:has-text('Revoke')").click()
    expect(admin.locator(f"#invite-{pending.pk}")).to_contain_text("revoked")
    pending.refresh_from_db()
    assert pending.revoked_at is not None
    actions = set(AuditLog.objects.filter(team=team).values_list("action", flat=True))
    assert {"team.invite_created", "team.invite_accepted", "membership.role_changed",
            "team.invite_revoked", "account.registered"} <= actions  # fmt: skip
