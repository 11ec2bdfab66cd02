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


@shared_task(ignore_result=True)
def audit_escalations() -> dict:
    """Every minute (beat): repair escalations that never started or whose step is overdue."""
    from oncall.auditor import audit_escalations as audit

    report = audit()
    return {"started": report.started, "fired": report.fired, "failed": report.failed}
