from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LedgerConfig(AppConfig):
    """The money ledger: below every app that posts to it (declarations, billing, appeals...).

    It imports only ``accounts`` and ``carm_portal``; see docs/architecture-layers.md.
    """

    name = "billing.ledger"
    label = "ledger"
    verbose_name = _("Ledger")
