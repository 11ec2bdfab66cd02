import pytest

from incidents import panels
from tests.factories import IncidentFactory


@pytest.fixture
def clean_panels():
    saved = dict(panels._panels)
    panels._panels.clear()
    yield
    panels._panels.clear()
    panels._panels.update(saved)


@pytest.mark.django_db
def test_panels_are_ordered_and_may_hide_themselves(clean_panels, responder):
    incident = IncidentFactory()
    panels.register_panel(
        panels.IncidentPanel("b", "B", "b.html", lambda i, u: {"n": i.pk}, order=20)
    )
    panels.register_panel(panels.IncidentPanel("a", "A", "a.html", lambda i, u: {}, order=10))
    panels.register_panel(panels.IncidentPanel("hidden", "H", "h.html", lambda i, u: None, order=5))
    shown = panels.panels_for(incident, responder)
    assert [(p.key, ctx) for p, ctx in shown] == [("a", {}), ("b", {"n": incident.pk})]
