from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = _("Accounts and access")

    def ready(self):
        from . import tokens

        tokens.connect()

        from .access import connect_gate_memo

        connect_gate_memo()

        from . import deadlines, notifications

        deadlines.register_own()
        notifications.register_own()

        from .dashboard import register_panel
        from .deadline_views import dashboard_card

        register_panel("deadlines", "accounts/_deadlines_card.html", dashboard_card, order=5)
