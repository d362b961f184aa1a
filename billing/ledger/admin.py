from django.contrib import admin

from carm_portal.admin import ReadOnlyAdmin

from .models import LedgerEntry


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ReadOnlyAdmin):
    """Read-only: the ledger is append-only, entries are written by services only."""

    list_display = ["effective_date", "billing_period", "program_account", "kind", "amount", "reference"]
    list_filter = ["kind", "billing_period"]
    search_fields = ["=reference", "=program_account__number", "=idempotency_key"]
    date_hierarchy = "effective_date"
    list_select_related = ["program_account"]
    raw_id_fields = ["program_account", "created_by"]
    # Counting millions of rows on every page load is slow; the paginator shows "more".
    show_full_result_count = False
