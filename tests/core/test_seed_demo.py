import pytest
from django.core.management import call_command

from accounts.models import Membership, Role, Team, User
from incidents.models import Incident, Service, Status, TimelineEntry


def _snapshot():
    return {
        "teams": list(Team.objects.values_list("slug", flat=True)),
        "users": sorted(User.objects.values_list("username", flat=True)),
        "services": sorted(Service.objects.values_list("slug", "rto_minutes", "rpo_minutes")),
        "incidents": sorted(Incident.objects.values_list("dedup_key", "status", "severity")),
        "timeline": TimelineEntry.objects.count(),
    }


@pytest.mark.django_db
def test_seed_demo_twice_leaves_the_same_data():
    call_command("seed_demo", password="pw-for-tests")
    first = _snapshot()
    call_command("seed_demo", password="pw-for-tests")
    assert _snapshot() == first


@pytest.mark.django_db
def test_seed_demo_makes_a_living_system():
    call_command("seed_demo", password="pw-for-tests")
    admin = User.objects.get(username="admin")
    assert admin.is_superuser and admin.check_password("pw-for-tests")
    assert Membership.objects.get(user=admin, team__slug="demo").role == Role.ADMIN
    assert Service.objects.filter(team__slug="demo", rto_minutes__isnull=False).count() == 3
    statuses = set(Incident.objects.values_list("status", flat=True))
    assert statuses == {s.value for s in Status}
    assert set(Incident.objects.values_list("severity", flat=True)) == {1, 2, 3, 4, 5}
    resolved = Incident.objects.filter(status=Status.RESOLVED).first()
    assert resolved.resolved_at > resolved.triggered_at
    assert resolved.timeline.filter(kind="resolved").exists()


@pytest.mark.django_db
def test_seed_demo_if_empty_leaves_an_existing_install_alone():
    Team.objects.create(name="Ours", slug="ours")
    call_command("seed_demo", if_empty=True)
    assert not Team.objects.filter(slug="demo").exists()
