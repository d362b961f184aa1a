from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BillingConfig(AppConfig):
    name = "billing"
    verbose_name = _("Billing")

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from accounts.readiness import register

        from .ledger import clear_due_date_cache
        from .models import DueDateOverride
        from .overdue import overdue_check

        register("overdue", overdue_check, order=60)

        from .panels import register_panels

        register_panels()
        post_save.connect(clear_due_date_cache, sender=DueDateOverride, dispatch_uid="billing.due_date_cache.save")
        post_delete.connect(clear_due_date_cache, sender=DueDateOverride, dispatch_uid="billing.due_date_cache.delete")
