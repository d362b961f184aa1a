from django import template

from carm_portal.money import format_cad

register = template.Library()


@register.filter
def cad(value) -> str:
    """$1,234.50 (money is formatted in one place: carm_portal.money.format_cad)."""
    if value is None or value == "":
        return ""
    return format_cad(value)
