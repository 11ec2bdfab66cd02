"""Thin Celery tasks. Each may run twice or concurrently: the services claim their work first."""

from celery import shared_task


@shared_task(ignore_result=True)
def sweep() -> dict:
    from statuspage.services import components, maintenance

    result = maintenance.advance_windows()
    result["expired_overrides"] = components.expire_overrides()
    return result
