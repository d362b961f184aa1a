from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DeclarationsConfig(AppConfig):
    name = "declarations"
    verbose_name = _("Declarations (CADs)")

    def ready(self) -> None:
        from .readiness import register_checks

        register_checks()

        from .deadline_items import register_deadlines

        register_deadlines()  # the deadline centre's rows (accounts.deadlines)

        from .validation import register_reference_tables

        register_reference_tables()
