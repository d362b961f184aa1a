from django.contrib import admin
from django.utils import timezone
from django.utils.translation import gettext as _

from .models import DueDateOverride, HolidayOverride, InterestRate, OutboxItem


class ReadOnlyAdmin(admin.ModelAdmin):
    """Written by services only: never added, changed or deleted in the admin."""

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(HolidayOverride)
class HolidayOverrideAdmin(admin.ModelAdmin):
    list_display = ["day", "is_holiday", "note"]
    list_filter = ["is_holiday"]
    search_fields = ["note"]
    date_hierarchy = "day"


@admin.register(OutboxItem)
class OutboxItemAdmin(admin.ModelAdmin):
    """Work after a commit: what is pending, lost or failed (an operator may send it again)."""

    list_display = ["pk", "task", "args", "status", "attempts", "created_at", "sent_at", "done_at"]
    list_filter = ["status", "task"]
    search_fields = ["=key", "task"]
    readonly_fields = ["task", "args", "key", "attempts", "last_error", "created_at", "sent_at", "done_at"]
    actions = ["send_again"]

    @admin.action(description=_("Send again now"))
    def send_again(self, request, queryset):
        from . import outbox

        ids = list(queryset.exclude(status=OutboxItem.Status.DONE).values_list("pk", flat=True))
        OutboxItem.objects.filter(pk__in=ids).update(status=OutboxItem.Status.PENDING, next_attempt_at=timezone.now())
        sent = sum(1 for pk in ids if outbox.dispatch(pk))
        self.message_user(request, _("%(n)d item(s) sent.") % {"n": sent})


@admin.register(InterestRate)
class InterestRateAdmin(admin.ModelAdmin):
    list_display = ["effective_from", "annual_rate", "note"]


@admin.register(DueDateOverride)
class DueDateOverrideAdmin(admin.ModelAdmin):
    list_display = ["period_end", "due_date", "note"]
