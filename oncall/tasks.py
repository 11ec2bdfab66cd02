"""Thin Celery tasks. Each may run twice or concurrently: the services claim their work first."""

from celery import shared_task

from oncall import delivery, escalation


@shared_task(ignore_result=True)
def deliver_notification(notification_id: int) -> str:
    return delivery.deliver_notification(notification_id=notification_id)


@shared_task(ignore_result=True)
def sweep() -> dict:
    """Every few seconds (beat): fire due escalation steps, resend due and orphaned deliveries."""
    fired = escalation.fire_due_escalations()
    requeued = delivery.requeue_due_notifications()
    return {"fired": fired, "requeued": len(requeued)}
