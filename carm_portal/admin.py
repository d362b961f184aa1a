"""Shared admin pieces, and the admin of carm_portal's own tables.

``BigTableAdmin`` is how every changelist over a table of millions of rows (ledger entries, CADs,
statements, audit events...) stays fast: no COUNT(*) of the whole table, no date hierarchy (it reads
every row's date), filters whose choices need no query, and search by exact, indexed values.
"""

from __future__ import annotations

from datetime import date

from django.contrib import admin
from django.core.paginator import Paginator
from django.db import connections
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from . import calendar
from .models import DueDateOverride, HolidayOverride, InterestRate, OutboxItem

# Below this many rows (by the planner's estimate) a changelist counts exactly: it is cheap there.
ESTIMATE_COUNT_ABOVE = 100_000


def estimated_rows(queryset: QuerySet) -> int | None:
    """PostgreSQL's estimate of the rows of the queryset's table (``pg_class.reltuples``, kept by
    ANALYZE and autovacuum), or None where there is none (not PostgreSQL, never analyzed)."""
    connection = connections[queryset.db]
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass",
                       [connection.ops.quote_name(queryset.model._meta.db_table)])
        row = cursor.fetchone()
    return int(row[0]) if row and row[0] is not None and row[0] >= 0 else None


class EstimatedCountPaginator(Paginator):
    """An unfiltered changelist of a big table counts by the planner's estimate, not COUNT(*)
    (a full scan: ~0.1 s per million rows, on every page). A filtered or searched one counts exactly."""

    @cached_property
    def count(self) -> int:
        qs = self.object_list
        if isinstance(qs, QuerySet) and not qs.query.where:
            estimate = estimated_rows(qs)
            if estimate is not None and estimate > ESTIMATE_COUNT_ABOVE:
                return estimate
        return super().count


class RecentPeriodFilter(admin.SimpleListFilter):
    """The last 12 billing periods (from the calendar, no query), instead of a DISTINCT over the table."""

    title = gettext_lazy("billing period")
    parameter_name = "period"
    field_name = "billing_period"
    periods = 12

    def lookups(self, request, model_admin):
        last = calendar.billing_period_for(timezone.localdate())
        return [(p.isoformat(), p.isoformat()) for p in reversed(calendar.periods_ending(last, self.periods))]

    def queryset(self, request, queryset):
        value = self.value()
        if not value:
            return queryset
        try:
            return queryset.filter(**{self.field_name: date.fromisoformat(value)})
        except ValueError:
            return queryset.none()


class RecentStatementPeriodFilter(RecentPeriodFilter):
    title = gettext_lazy("period end")
    field_name = "period_end"


class BigTableAdmin(admin.ModelAdmin):
    """A changelist that stays under half a second at millions of rows.

    - the paginator estimates an unfiltered count; ``show_full_result_count`` off (no second COUNT);
    - ``ordering`` should follow an index (``-id``): the model's ordering may need a sort of every row;
    - no ``date_hierarchy`` (it reads every row's date); dates and periods filter by fixed choices;
    - search: ``exact_search_fields`` only, each an indexed column; a field of a related model
      (``program_account__number``) is looked up first (one indexed query) and the table filtered
      by the ids found, so the OR of the fields stays an OR of index scans.
    """

    paginator = EstimatedCountPaginator
    show_full_result_count = False
    exact_search_fields: tuple[str, ...] = ()

    def get_search_fields(self, request):
        return self.exact_search_fields or super().get_search_fields(request)

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term or not self.exact_search_fields:
            return super().get_search_results(request, queryset, search_term)
        match = Q()
        for path in self.exact_search_fields:
            relation, _sep, field = path.rpartition("__")
            if not relation:
                match |= Q(**{field: term})
                continue
            model = queryset.model
            for part in relation.split("__"):
                model = model._meta.get_field(part).related_model
            ids = list(model._default_manager.filter(**{field: term}).values_list("pk", flat=True)[:1000])
            if ids:
                match |= Q(**{f"{relation}__in": ids})
        return (queryset.filter(match) if match else queryset.none()), False


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


class ReadOnlyBigTableAdmin(BigTableAdmin, ReadOnlyAdmin):
    """A big table written by services only (the ledger, statements): fast and read-only."""


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
