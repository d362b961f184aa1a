from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BrokersConfig(AppConfig):
    """The broker command centre: one board over every client a broker's user may act for.

    The top layer: it reads accounts, billing, security (billing.rpp), declarations and appeals,
    and nothing imports it. It has no models of its own (no migrations).
    """

    name = "brokers"
    verbose_name = _("Broker command centre")
