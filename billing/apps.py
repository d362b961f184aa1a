from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BillingConfig(AppConfig):
    name = "billing"
    verbose_name = _("Billing")

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from accounts.readiness import register
        from carm_portal import reference_tables

        from .models import DueDateOverride, InterestRate
        from .overdue import overdue_check

        register("overdue", overdue_check, order=60)

        from .panels import register_panels

        register_panels()
        # An admin edit reaches every process: see carm_portal/reference_tables.py.
        for model in (DueDateOverride, InterestRate):
            uid = f"reftable-{model._meta.label_lower}"
            post_save.connect(reference_tables.changed, sender=model, dispatch_uid=f"{uid}-save")
            post_delete.connect(reference_tables.changed, sender=model, dispatch_uid=f"{uid}-delete")
