from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OffsettingConfig(AppConfig):
    """Credits applied to debts by allocation rows; refunds."""

    name = "billing.offsetting"
    label = "offsetting"
    verbose_name = _("Offsetting")

    def ready(self) -> None:
        from accounts.dashboard import register_panel
        from billing.reconcile import register_credit_explainer

        from .explain import debts_paid
        from .panel import panel_context

        # No ledger signal: each posting service that writes a credit asks for offsetting itself
        # (``carm_portal.outbox.request_offsets``, recorded with the credit, sent after the commit).
        register_panel("offsetting", "offsetting/_panel.html", panel_context, order=40)
        # The statement reconciler says which debts each credit paid (billing cannot import Allocation).
        register_credit_explainer(debts_paid)
