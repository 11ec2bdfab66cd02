from django import template

from incidents.markdown import render_markdown
from postmortems.facts import human_duration

register = template.Library()


@register.filter(name="pm_markdown")
def markdown_filter(text: str):
    """User Markdown to sanitised HTML (see incidents.markdown)."""
    return render_markdown(text)


@register.filter(name="duration")
def duration_filter(value):
    return human_duration(value)


@register.filter(name="snapshot_time")
def snapshot_time(value: str) -> str:
    """An ISO timestamp from a snapshot as 'YYYY-MM-DD HH:MM:SS'."""
    return str(value or "")[:19].replace("T", " ")
