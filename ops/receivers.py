"""Domain-event receivers of ops. Idempotent: they re-read rows by id and write conditionally."""

from __future__ import annotations

from incidents.models import Incident
from ops.rpo import data_loss_window


def fill_data_loss_window(*, incident_id: int) -> None:
    """An RPO incident resolved: its post-mortem takes the data-loss window from the guard
    (last good backup before it opened -> the good backup that ended it), unless someone has
    already entered one."""
    incident = Incident.objects.filter(pk=incident_id).first()
    if incident is None or not incident.dedup_key.startswith("rpo:"):
        return
    from postmortems.models import PostMortem
    from postmortems.services.drafting import draft_on_resolve

    draft_on_resolve(incident_id=incident_id)
    start, end = data_loss_window(incident)
    if start is None or end is None:
        return
    PostMortem.objects.filter(
        incident=incident, data_loss_from__isnull=True, data_loss_until__isnull=True
    ).update(data_loss_from=start, data_loss_until=end)
