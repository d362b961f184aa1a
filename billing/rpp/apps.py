from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RppConfig(AppConfig):
    """RPP enrolment and financial security (bonds, cash deposits, the requirement)."""

    name = "billing.rpp"
    label = "rpp"
    verbose_name = _("RPP security")

    def ready(self) -> None:
        from .readiness import register_checks

        register_checks()

        from .deadline_items import register_deadlines

        register_deadlines()  # the deadline centre's rows (accounts.deadlines)
