from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from carm_portal.admin import ReadOnlyBigTableAdmin, RecentPeriodFilter

from .models import LedgerEntry


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ReadOnlyBigTableAdmin):
    """Read-only: the ledger is append-only, entries are written by services only.

    Millions of rows (carm_portal.admin.BigTableAdmin): newest first by id (the primary key's index,
    not a sort of every row by date), periods and dates filtered by fixed choices, exact search."""

    list_display = ["effective_date", "billing_period", "program_account", "kind", "amount", "reference"]
    list_filter = ["kind", RecentPeriodFilter, "effective_date"]
    exact_search_fields = ("program_account__number", "reference", "idempotency_key")
    search_help_text = _("An exact RM account number, transaction number (reference) or idempotency key.")
    ordering = ["-id"]
    list_select_related = ["program_account"]
    raw_id_fields = ["program_account", "created_by"]
