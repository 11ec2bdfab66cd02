"""Races on the team page, for real on PostgreSQL: one invite link opened by several people at
once makes exactly one member; two admins removing each other leave one admin."""

from __future__ import annotations

import itertools
import threading

import pytest

from accounts.actors import Actor
from accounts.invites import accept_invite, create_invite
from accounts.models import AuditLog, Membership, Role, TeamInvite
from accounts.services import MembershipError, remove_member
from config.errors import DomainError
from tests.concurrency import run_concurrently
from tests.factories import MembershipFactory, TeamFactory, UserFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_one_invite_opened_by_five_people_at_once_makes_one_member():
    team = TeamFactory()
    admin = MembershipFactory(team=team, role=Role.ADMIN).user
    issued = create_invite(team=team, role=Role.RESPONDER, actor=Actor.of_user(admin))
    people = iter([UserFactory() for _ in range(5)])
    lock = threading.Lock()

    def open_link():
        with lock:
            person = next(people)
        try:
            accept_invite(token=issued.token, user=person, actor=Actor.of_user(person))
            return "joined"
        except DomainError:
            return "refused"

    outcomes = run_concurrently(open_link, times=5)
    assert sorted(outcomes) == ["joined"] + ["refused"] * 4
    assert Membership.objects.filter(team=team, role=Role.RESPONDER).count() == 1
    assert TeamInvite.objects.get().used_by is not None
    assert AuditLog.objects.filter(action="team.invite_accepted").count() == 1


def test_two_admins_removing_each_other_at_once_leave_one_admin():
    team = TeamFactory()
    first = MembershipFactory(team=team, role=Role.ADMIN)
    second = MembershipFactory(team=team, role=Role.ADMIN)
    pairs = itertools.cycle([(first, second.user), (second, first.user)])
    lock = threading.Lock()

    def remove():
        with lock:
            membership, by = next(pairs)
        try:
            remove_member(membership=membership, actor=Actor.of_user(by))
            return "removed"
        except MembershipError:
            return "refused"

    assert sorted(run_concurrently(remove, times=2)) == ["refused", "removed"]
    assert Membership.objects.filter(team=team, role=Role.ADMIN).count() == 1
