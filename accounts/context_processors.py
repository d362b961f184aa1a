from django.utils.functional import SimpleLazyObject

from .acting import get_acting_for


def acting_for(request):
    """Expose the acting-for business to every template (lazily: only pages that show it pay)."""
    return {"acting_for": SimpleLazyObject(lambda: get_acting_for(request))}
