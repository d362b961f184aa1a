"""``{{ codes|scope_labels }}``: delegation scope codes ("financial", "cad_submit") as the words the
delegation form uses, in the reader's language, joined by commas (codes stay in CSV and the API)."""

from django import template
from django.core.exceptions import FieldDoesNotExist

register = template.Library()


@register.filter
def scope_labels(codes) -> str:
    from accounts.models import Delegation

    labels = []
    for code in codes or ():
        try:
            labels.append(str(Delegation._meta.get_field(f"scope_{code}").verbose_name))
        except FieldDoesNotExist:  # an unknown code is shown as it is
            labels.append(str(code))
    return ", ".join(labels)
