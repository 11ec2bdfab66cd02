from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.dispatch import receiver

from accounts import audit


@receiver(user_logged_in)
def _audit_login(sender, request, user, **kwargs):
    audit.record(action="login", actor=user, request=request)


@receiver(user_login_failed)
def _audit_login_failed(sender, credentials, request=None, **kwargs):
    audit.record(
        action="login_failed",
        actor_label=str(credentials.get("username", ""))[:150],
        request=request,
    )
