from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RppConfig(AppConfig):
    """RPP enrolment and financial security (bonds, cash deposits, the requirement)."""

    name = "billing.rpp"
    label = "rpp"
    verbose_name = _("RPP security")

    def ready(self) -> None:
        from declarations import payment_timing

        from .readiness import register_checks
        from .selectors import status_changes_since

        register_checks()
        # Whether a CAD is pay-at-release depends on the RPP status on its release day.
        payment_timing.set_status_changes(status_changes_since)

        from .deadline_items import register_deadlines

        register_deadlines()  # the deadline centre's rows (accounts.deadlines)
