import pytest
from django.core.management import call_command

from accounts.models import Team, User
from postmortems.demo import seed_demo_postmortems
from postmortems.models import PostMortem, Status
from runbooks.demo import seed_demo_runbooks
from runbooks.models import Runbook

pytestmark = pytest.mark.django_db


def test_demo_runbooks_and_post_mortems_seed_idempotently():
    call_command("seed_demo", password="demo-password-123")
    team = Team.objects.get(slug="demo")
    admin = User.objects.get(username="admin")
    # seed_demo ran both seeders (registered with incidents.demo); again they add nothing.
    assert seed_demo_runbooks(team=team, author=admin) == 0
    assert seed_demo_postmortems(team=team, author=admin) == 0
    assert Runbook.objects.filter(team=team).count() == 3
    assert Runbook.objects.review_overdue().count() == 1
    statuses = dict(PostMortem.objects.values_list("incident__dedup_key", "status"))
    assert statuses == {"demo-4": Status.IN_REVIEW, "demo-5": Status.PUBLISHED}
