from __future__ import annotations

from dataclasses import dataclass, field

from django.utils.functional import SimpleLazyObject

# A firm with more clients than this lists only the recent ones (and the current one) in the
# header's switcher: a <select> of 5,000 clients cost ~0.3 s on every page.
SWITCHER_FULL_LIST = 30


@dataclass
class SwitcherChoices:
    choices: list = field(default_factory=list)  # the <select>'s options
    many: bool = False  # more clients than listed: the type-ahead and a link to the searchable board


def broker(request):
    """``is_broker_user``: whether to show the "Clients" board link; ``switcher``: the header
    switcher's choices (every business the user may act for, or for a broker firm with many
    clients, the recent ones and the current one). Both lazy: a query when shown, one of each."""
    memo: dict[str, bool] = {}

    def is_broker() -> bool:
        if "broker" not in memo:
            from .board import broker_firm_ids

            memo["broker"] = request.user.is_authenticated and bool(broker_firm_ids(request.user))
        return memo["broker"]

    def switcher() -> SwitcherChoices:
        from accounts.access import businesses_for
        from accounts.acting import get_acting_for

        from .recent import recent_clients

        if not request.user.is_authenticated:
            return SwitcherChoices()
        allowed = businesses_for(request.user).order_by("legal_name").only("id", "legal_name", "operating_name", "bn9")
        first = list(allowed[:SWITCHER_FULL_LIST + 1])
        if len(first) <= SWITCHER_FULL_LIST or not is_broker():
            return SwitcherChoices(first if len(first) <= SWITCHER_FULL_LIST else list(allowed))
        chosen = recent_clients(request)
        acting = get_acting_for(request)
        if acting is not None and all(b.pk != acting.pk for b in chosen):
            chosen = [acting, *chosen]
        return SwitcherChoices(chosen, many=True)

    return {"is_broker_user": SimpleLazyObject(is_broker), "switcher": SimpleLazyObject(switcher)}
