"""Admin for allocations (read-only: written by the offsetting services) and refunds (staff
approve, pay or reject them with actions that call the services)."""

from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from carm_portal.admin import ReadOnlyBigTableAdmin
from carm_portal.exceptions import ApplicationError

from . import services
from .models import Allocation, Refund


@admin.register(Allocation)
class AllocationAdmin(ReadOnlyBigTableAdmin):
    list_display = ["applied_on", "credit", "debt", "amount", "method", "created_by"]
    list_filter = ["method", "applied_on"]
    search_fields = ["=credit__reference", "=debt__reference", "=credit__program_account__number",
                     "=debt__program_account__number"]
    ordering = ["-id"]
    list_select_related = ["credit", "debt", "created_by"]
    raw_id_fields = ["credit", "debt", "created_by"]


def _run(modeladmin, request, queryset, service, done_message):
    done = 0
    for refund in queryset.select_related("program_account__business"):
        try:
            service(actor=request.user, refund=refund)
        except ApplicationError as exc:
            modeladmin.message_user(request, f"{refund}: {exc.message}", messages.ERROR)
        else:
            done += 1
    if done:
        modeladmin.message_user(request, done_message(done), messages.SUCCESS)


@admin.action(description=_("Approve the selected refunds"))
def approve_refunds(modeladmin, request, queryset):
    _run(modeladmin, request, queryset, services.refund_approve,
         lambda n: ngettext("%d refund approved.", "%d refunds approved.", n) % n)


@admin.action(description=_("Pay the selected (approved) refunds"))
def pay_refunds(modeladmin, request, queryset):
    _run(modeladmin, request, queryset, services.refund_pay,
         lambda n: ngettext("%d refund paid.", "%d refunds paid.", n) % n)


@admin.action(description=_("Reject the selected refunds"))
def reject_refunds(modeladmin, request, queryset):
    _run(modeladmin, request, queryset, services.refund_reject,
         lambda n: ngettext("%d refund rejected.", "%d refunds rejected.", n) % n)


@admin.register(Refund)
class RefundAdmin(admin.ModelAdmin):
    list_display = ["requested_at", "program_account", "payee", "amount", "status", "approved_by"]
    list_filter = ["status"]
    search_fields = ["=program_account__number", "payee__legal_name"]
    list_select_related = ["program_account", "payee", "approved_by"]
    raw_id_fields = ["program_account", "payee", "requested_by", "approved_by", "decided_by", "ledger_entry"]
    actions = [approve_refunds, pay_refunds, reject_refunds]

    def get_readonly_fields(self, request, obj=None):
        # Every state change goes through the actions (the services check and audit).
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
