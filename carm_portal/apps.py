from django.apps import AppConfig
from django.core import checks
from django.db.models.signals import post_delete, post_save


class CarmPortalConfig(AppConfig):
    name = "carm_portal"
    verbose_name = "CARM portal"

    def ready(self) -> None:
        from . import calendar
        from .conf import check_carm_settings
        from .models import HolidayOverride

        def _clear(**_kwargs):
            calendar.clear_override_cache()

        post_save.connect(_clear, sender=HolidayOverride, dispatch_uid="holiday-override-save")
        post_delete.connect(_clear, sender=HolidayOverride, dispatch_uid="holiday-override-delete")
        checks.register(check_carm_settings)
