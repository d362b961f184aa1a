from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OffsettingConfig(AppConfig):
    """Credits applied to debts by allocation rows; refunds."""

    name = "billing.offsetting"
    label = "offsetting"
    verbose_name = _("Offsetting")
