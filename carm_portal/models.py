from django.db import models
from django.utils.translation import gettext_lazy as _


class HolidayOverride(models.Model):
    """An admin's correction to the statutory calendar: add a closure or remove a holiday."""

    day = models.DateField(_("day"), unique=True)
    is_holiday = models.BooleanField(
        _("is a holiday"), default=True, help_text=_("Untick to make a statutory holiday a business day.")
    )
    note = models.CharField(_("note"), max_length=200, blank=True)

    class Meta:
        ordering = ["day"]
        verbose_name = _("holiday override")
        verbose_name_plural = _("holiday overrides")

    def __str__(self) -> str:
        return f"{self.day} ({'holiday' if self.is_holiday else 'business day'})"
