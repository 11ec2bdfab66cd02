"""Factories for runbook tests. Behaviour tests create runbooks through the services."""

from __future__ import annotations

from incidents.actors import Actor
from runbooks.services import RunbookInput, StepInput, create_runbook


def make_runbook(team, by=None, *, services=(), steps=None, **fields) -> object:
    fields.setdefault("title", "High latency on the chat avatar")
    fields.setdefault("body", "Check the provider status page first.")
    data = RunbookInput(
        service_ids=[s.pk for s in services],
        steps=steps if steps is not None else [StepInput(title="Look at the dashboard")],
        **fields,
    )
    return create_runbook(
        team=team,
        data=data,
        actor=Actor.of_user(by) if by is not None else Actor.system("tests"),
    )


def step(title: str, **kwargs) -> StepInput:
    return StepInput(title=title, **kwargs)
