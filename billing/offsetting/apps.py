from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OffsettingConfig(AppConfig):
    """Credits applied to debts by allocation rows; refunds."""

    name = "billing.offsetting"
    label = "offsetting"
    verbose_name = _("Offsetting")

    def ready(self) -> None:
        from django.db.models.signals import post_save

        from accounts.dashboard import register_panel
        from billing.models import LedgerEntry

        from .panel import panel_context
        from .signals import on_ledger_entry_saved

        post_save.connect(on_ledger_entry_saved, sender=LedgerEntry, dispatch_uid="offsetting.new_credit")
        register_panel("offsetting", "offsetting/_panel.html", panel_context, order=40)
