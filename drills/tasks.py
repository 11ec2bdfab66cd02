"""Thin Celery tasks of game days. Safe to run twice (two beats, redelivery)."""

from celery import shared_task

from drills import services


@shared_task
def run_due_drills() -> dict:
    return services.run_due_drills()
