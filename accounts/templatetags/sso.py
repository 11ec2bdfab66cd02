"""``{% sso_login_button %}``: the single sign-on button beside the local login form."""

from django import template
from django.conf import settings

from accounts.sso import sso_enabled

register = template.Library()


@register.inclusion_tag("accounts/_sso_button.html", takes_context=True)
def sso_login_button(context):
    request = context.get("request")
    next_url = request.GET.get("next", "") if request is not None else ""
    return {"enabled": sso_enabled(), "label": settings.OIDC_LOGIN_LABEL, "next": next_url}
