from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BillingConfig(AppConfig):
    name = "billing"
    verbose_name = _("Billing")

    def ready(self) -> None:
        from accounts.readiness import register
        from billing.ledger import services as ledger
        from billing.ledger import texts

        from .models import Payment, Statement
        from .overdue import overdue_check

        texts.register_choices("payment_method", Payment.Method)  # the ledger's "payment" text names the method

        ledger.set_issued_periods(
            lambda account_id, from_period: Statement.objects.filter(
                program_account_id=account_id, period_end__gte=from_period
            ).values_list("period_end", flat=True)
        )

        register("overdue", overdue_check, order=60)

        from .panels import register_panels

        register_panels()

        from .deadline_items import register_deadlines

        register_deadlines()  # the deadline centre's rows (accounts.deadlines)
