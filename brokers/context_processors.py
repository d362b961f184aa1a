from django.utils.functional import SimpleLazyObject


def broker(request):
    """``is_broker_user``: whether to show the "Clients" board link (lazy: one query when shown)."""

    def is_broker() -> bool:
        from .board import broker_firm_ids

        return request.user.is_authenticated and bool(broker_firm_ids(request.user))

    return {"is_broker_user": SimpleLazyObject(is_broker)}
