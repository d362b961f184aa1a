from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _

from carm_portal.admin import (
    ReadOnlyAdmin,
    ReadOnlyBigTableAdmin,
    RecentPeriodFilter,
    RecentStatementPeriodFilter,
)

from . import services
from .models import (
    BillingRun,
    BillingRunChunk,
    DailyNotice,
    Payment,
    SavedReconciliation,
    Statement,
)


@admin.register(Statement)
class StatementAdmin(ReadOnlyBigTableAdmin):
    """Frozen snapshots of the ledger: read-only, never deletable. One per RM account and month."""

    list_display = ["period_end", "program_account", "opening_balance", "charges", "credits", "payments",
                    "interest", "penalties", "closing_balance", "due_date", "lines_count"]
    list_filter = [RecentStatementPeriodFilter]
    exact_search_fields = ("program_account__number",)
    search_help_text = _("An exact RM account number.")
    ordering = ["-id"]
    list_select_related = ["program_account"]


class BillingRunChunkInline(admin.TabularInline):
    model = BillingRunChunk
    fields = ["number", "status", "attempts", "error", "finished_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(BillingRun)
class BillingRunAdmin(ReadOnlyAdmin):
    list_display = ["period_end", "run_number", "status", "progress", "total", "done", "failed", "started_by",
                    "started_at", "finished_at"]
    list_filter = ["status", "period_end"]
    inlines = [BillingRunChunkInline]
    actions = ["retry_failed_chunks"]

    @admin.display(description=_("progress"))
    def progress(self, obj: BillingRun) -> str:
        return f"{obj.done + obj.failed}/{obj.total} ({obj.progress_percent}%)"

    @admin.action(description=_("Retry the failed chunks of the selected runs"))
    def retry_failed_chunks(self, request, queryset):
        count = sum(services.retry_failed(run.pk, actor=request.user) for run in queryset)
        self.message_user(request, _("%(count)d chunk(s) enqueued again.") % {"count": count}, messages.SUCCESS)

    def has_change_permission(self, request, obj=None):
        # Needed for the action; every field stays read-only.
        return request.user.is_staff and obj is None


@admin.register(DailyNotice)
class DailyNoticeAdmin(ReadOnlyBigTableAdmin):
    list_display = ["day", "program_account", "entries_count", "total"]
    list_filter = ["day"]
    exact_search_fields = ("program_account__number",)
    ordering = ["-id"]
    list_select_related = ["program_account"]


@admin.register(Payment)
class PaymentAdmin(ReadOnlyAdmin):
    """Payments are recorded through the portal or the API (gate, cap, ledger posting)."""

    list_display = ["received_on", "program_account", "method", "reference", "amount", "billing_period",
                    "recorded_by"]
    list_filter = ["method", RecentPeriodFilter]
    search_fields = ["=reference", "=program_account__number"]
    list_select_related = ["program_account", "recorded_by"]


@admin.register(SavedReconciliation)
class SavedReconciliationAdmin(ReadOnlyAdmin):
    """A user's saved comparison of its own list with a statement (billing/reconcile.py); read-only here."""

    list_display = ["created_at", "statement", "created_by", "source", "listed_total", "amount_due"]
    list_filter = ["source"]
    list_select_related = ["statement", "created_by"]
    raw_id_fields = ["statement", "created_by"]
