"""Thin Celery tasks of game days. Safe to run twice (two beats, redelivery)."""

from celery import shared_task

from drills import services
from incidents import backpressure


@shared_task
def run_due_drills() -> dict:
    # A game day waits while real alerts queue up: it would only add incidents to the storm.
    if backpressure.defer("game-day drills"):
        return {}
    return services.run_due_drills()
