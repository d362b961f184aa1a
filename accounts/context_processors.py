from django.utils.functional import SimpleLazyObject

from .access import businesses_for, is_cbsa_officer
from .acting import get_acting_for


def acting_for(request):
    """The acting-for business and the switcher's choices, for every page's header.

    Both are lazy: a page that does not show them does not query for them.
    """

    def choices():
        if not request.user.is_authenticated:
            return []
        return list(
            businesses_for(request.user).order_by("legal_name").only("id", "legal_name", "operating_name", "bn9")
        )

    return {
        "acting_for": SimpleLazyObject(lambda: get_acting_for(request)),
        "account_choices": SimpleLazyObject(choices),
        "switcher_ready": True,
        "is_cbsa_officer": SimpleLazyObject(lambda: is_cbsa_officer(request.user)),
    }
