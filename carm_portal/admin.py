from django.contrib import admin
from django.utils import timezone
from django.utils.translation import gettext as _

from .models import HolidayOverride, OutboxItem


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
