from django.apps import AppConfig
from django.core import checks
from django.db.models.signals import post_delete, post_migrate, post_save


class CarmPortalConfig(AppConfig):
    name = "carm_portal"
    verbose_name = "CARM portal"

    def ready(self) -> None:
        from . import reference_tables
        from .conf import check_carm_settings
        from .models import DueDateOverride, HolidayOverride, InterestRate

        # An admin edit reaches every process: see carm_portal/reference_tables.py.
        for model in (HolidayOverride, DueDateOverride, InterestRate):
            uid = f"reftable-{model._meta.label_lower}"
            post_save.connect(reference_tables.changed, sender=model, dispatch_uid=f"{uid}-save")
            post_delete.connect(reference_tables.changed, sender=model, dispatch_uid=f"{uid}-delete")
        # Data migrations use historical models (no signals): every table is re-read after migrate.
        post_migrate.connect(reference_tables.bump_all, sender=self, dispatch_uid="reftable-migrate")
        checks.register(check_carm_settings)
