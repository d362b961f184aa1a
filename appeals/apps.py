from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AppealsConfig(AppConfig):
    name = "appeals"
    verbose_name = _("Appeals and compliance actions")

    def ready(self) -> None:
        from accounts.dashboard import register_panel
        from accounts.readiness import register

        from .readiness import dashboard_context, open_appeals_item

        register("appeals", open_appeals_item, order=95)
        register_panel("appeals", "appeals/_dashboard_panel.html", dashboard_context, order=60)

        from .deadline_items import register_deadlines

        register_deadlines()  # the deadline centre's rows (accounts.deadlines)
