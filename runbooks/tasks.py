"""Thin Celery tasks: each takes ids and calls a service that claims its work first."""

from celery import shared_task

from runbooks import services


@shared_task(name="runbooks.tasks.run_step_action")
def run_step_action(action_run_id: int) -> None:
    services.execute_action_run(action_run_id=action_run_id)


@shared_task(name="runbooks.tasks.sweep_action_runs")
def sweep_action_runs() -> None:
    services.sweep_action_runs()
