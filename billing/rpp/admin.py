"""Admin for RPP security. State changes go through the services (actions), never raw edits:
enrolment status (enrol, suspend, reinstate), reduction reviews (approve as requested, reject;
approving with another amount is on the staff page /security/staff/reductions/<id>/)."""

from django.contrib import admin, messages
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from carm_portal.exceptions import ApplicationError

from . import services
from .models import (
    Bond,
    BondAllocation,
    CashDeposit,
    Notice,
    ReductionRequest,
    RppEnrolment,
    RppStatus,
    RppStatusChange,
    SecurityForecast,
    SecurityRequirement,
)


def _run(modeladmin, request, queryset, fn, done_message):
    done = 0
    for obj in queryset:
        try:
            fn(obj)
        except ApplicationError as exc:
            modeladmin.message_user(request, f"{obj}: {exc.message}", messages.ERROR)
        else:
            done += 1
    if done:
        modeladmin.message_user(request, done_message % {"n": done}, messages.SUCCESS)


class StatusChangeInline(admin.TabularInline):
    model = RppStatusChange
    extra = 0
    can_delete = False
    fields = ["changed_at", "from_status", "to_status", "actor", "reason"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(RppEnrolment)
class RppEnrolmentAdmin(admin.ModelAdmin):
    list_display = ["program_account", "status", "monthly_estimate", "requested_at", "status_changed_at"]
    list_filter = ["status"]
    search_fields = ["program_account__number", "program_account__business__legal_name"]
    list_select_related = ["program_account"]
    readonly_fields = ["program_account", "status", "requested_at", "requested_by", "status_changed_at"]
    fields = ["program_account", "status", "monthly_estimate", "requested_at", "requested_by", "status_changed_at"]
    inlines = [StatusChangeInline]
    actions = ["enrol", "suspend", "reinstate", "recompute"]

    def has_add_permission(self, request):
        return False

    def _move(self, request, queryset, status, reason, message):
        _run(self, request, queryset.select_related("program_account__business"), lambda e: services.enrolment_set_status(
            actor=request.user, program_account=e.program_account, status=status, reason=str(reason)), message)

    @admin.action(description=_("Enrol (approve the request)"))
    def enrol(self, request, queryset):
        self._move(request, queryset.filter(status=RppStatus.REQUESTED), RppStatus.ENROLLED,
                   _("Approved by CBSA staff."), _("%(n)d enrolled."))

    @admin.action(description=_("Suspend RPP"))
    def suspend(self, request, queryset):
        self._move(request, queryset, RppStatus.SUSPENDED, _("Suspended by CBSA staff."), _("%(n)d suspended."))

    @admin.action(description=_("Reinstate RPP"))
    def reinstate(self, request, queryset):
        self._move(request, queryset.filter(status=RppStatus.SUSPENDED), RppStatus.ENROLLED,
                   _("Reinstated by CBSA staff."), _("%(n)d reinstated."))

    @admin.action(description=_("Refresh the forecast (if the review were today)"))
    def recompute(self, request, queryset):
        _run(self, request, queryset.select_related("program_account__business"),
             lambda e: services.requirement_recompute(actor=request.user, program_account=e.program_account),
             _("%(n)d forecasts refreshed; binding requirements unchanged."))


@admin.register(SecurityRequirement)
class SecurityRequirementAdmin(admin.ModelAdmin):
    list_display = ["program_account", "is_current", "trigger", "basis", "as_of", "highest_month", "bond_amount",
                    "cash_amount", "due_date", "computed_at"]
    list_filter = ["is_current", "trigger", "basis", "computed_at"]
    search_fields = ["=program_account__number"]
    list_select_related = ["program_account"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(SecurityForecast)
class SecurityForecastAdmin(admin.ModelAdmin):
    """Read-only: "if the review were today" (never binding; refreshed monthly and on demand)."""

    list_display = ["program_account", "as_of", "basis", "highest_month", "bond_amount", "cash_amount", "computed_at"]
    list_filter = ["basis"]
    search_fields = ["program_account__number"]
    list_select_related = ["program_account"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class BondAllocationInline(admin.TabularInline):
    model = BondAllocation
    extra = 0
    fields = ["program_account", "amount"]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Bond)
class BondAdmin(admin.ModelAdmin):
    list_display = ["bond_number", "kind", "surety_name", "business", "amount", "effective_date", "expiry_date"]
    list_filter = ["kind", "expiry_date"]
    search_fields = ["bond_number", "surety_name", "business__legal_name", "business__bn9"]
    list_select_related = ["business"]
    inlines = [BondAllocationInline]
    readonly_fields = ["business", "bond_number", "amount", "created_at", "created_by"]

    def has_add_permission(self, request):
        return False  # recorded with its allocations in the portal or the API (services.bond_record)


@admin.register(CashDeposit)
class CashDepositAdmin(admin.ModelAdmin):
    list_display = ["program_account", "amount", "received_date", "reference", "ledger_entry", "created_at"]
    search_fields = ["program_account__number", "reference"]
    list_select_related = ["program_account", "ledger_entry"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ReductionRequest)
class ReductionRequestAdmin(admin.ModelAdmin):
    list_display = ["program_account", "status", "requested_amount", "approved_amount", "requested_at", "review_link"]
    list_filter = ["status"]
    search_fields = ["program_account__number", "rationale"]
    list_select_related = ["program_account"]
    readonly_fields = ["program_account", "requirement", "requested_amount", "rationale", "status", "requested_at",
                       "requested_by", "approved_amount", "decision_note", "decided_at", "decided_by"]
    actions = ["approve_as_requested", "reject"]

    def has_add_permission(self, request):
        return False

    @admin.display(description=_("Review"))
    def review_link(self, obj):
        if obj.status != ReductionRequest.Status.PENDING:
            return ""
        return format_html('<a href="{}">{}</a>', reverse("rpp:staff-reduction-decide", args=[obj.pk]), _("Review"))

    @admin.action(description=_("Approve at the requested amount"))
    def approve_as_requested(self, request, queryset):
        _run(self, request, queryset, lambda rr: services.reduction_decide(actor=request.user, reduction=rr, approve=True),
             _("%(n)d approved."))

    @admin.action(description=_("Reject"))
    def reject(self, request, queryset):
        _run(self, request, queryset, lambda rr: services.reduction_decide(actor=request.user, reduction=rr, approve=False),
             _("%(n)d rejected."))


@admin.register(Notice)
class NoticeAdmin(admin.ModelAdmin):
    list_display = ["subject", "kind", "business", "program_account", "threshold_days", "created_at", "read_at"]
    list_filter = ["kind", "threshold_days"]
    search_fields = ["subject", "key", "business__legal_name"]
    list_select_related = ["business", "program_account"]
    readonly_fields = ["business", "program_account", "bond", "kind", "threshold_days", "key", "subject", "body",
                       "emailed_to", "created_at", "read_at"]

    def has_add_permission(self, request):
        return False
