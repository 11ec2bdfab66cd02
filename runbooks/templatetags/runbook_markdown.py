from django import template

from incidents.markdown import render_markdown

register = template.Library()


@register.filter(name="markdown")
def markdown_filter(text: str):
    """User Markdown to sanitised HTML (see incidents.markdown)."""
    return render_markdown(text)
