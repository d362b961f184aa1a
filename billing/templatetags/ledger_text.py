"""``{{ entry|entry_description }}``: a ledger line's description in the reader's language."""

from django import template

from billing.entry_text import entry_description as _entry_description

register = template.Library()


@register.filter
def entry_description(entry) -> str:
    return _entry_description(entry)
