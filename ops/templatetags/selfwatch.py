"""``{% selfwatch_banner %}``: every signed-in person sees when Vigil itself is unhealthy."""

from django import template

from ops.selfwatch import problems

register = template.Library()


@register.inclusion_tag("ops/_selfwatch_banner.html", takes_context=True)
def selfwatch_banner(context):
    user = getattr(context.get("request"), "user", None)
    if not getattr(user, "is_authenticated", False):
        return {"problems": {}}
    return {"problems": problems()}
