"""Daily notices: one per account per day with activity, built set-based.

A notice's lines are the account's ledger entries *posted* that day (``created_at`` on ``day``,
in the portal's time zone). One ``INSERT … SELECT … GROUP BY … ON CONFLICT DO NOTHING``: a
rerun for the same day is a no-op.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from django.db import connection, models
from django.utils import timezone

from billing.ledger.models import LedgerEntry

from .models import DailyNotice


def day_bounds(day: date) -> tuple[datetime, datetime]:
    tz = timezone.get_current_timezone()
    start = timezone.make_aware(datetime.combine(day, time.min), tz)
    return start, start + timedelta(days=1)


def notice_lines(notice: DailyNotice) -> models.QuerySet[LedgerEntry]:
    start, end = day_bounds(notice.day)
    return LedgerEntry.objects.filter(
        program_account_id=notice.program_account_id, created_at__gte=start, created_at__lt=end
    ).order_by("created_at", "id")


def build_daily_notices(day: date) -> int:
    """Create the day's notices (one SQL statement); returns how many were created."""
    start, end = day_bounds(day)
    sql = """
        INSERT INTO billing_dailynotice (program_account_id, day, entries_count, total, created_at)
        SELECT program_account_id, %s, COUNT(*), SUM(amount), %s
          FROM billing_ledgerentry
         WHERE created_at >= %s AND created_at < %s
         GROUP BY program_account_id
        ON CONFLICT (program_account_id, day) DO NOTHING
    """
    # Raw SQL gets the datetimes as the ORM stores them (SQLite keeps naive UTC text: an aware
    # local time would compare as text and miss the evening's entries).
    adapt = connection.ops.adapt_datetimefield_value
    with connection.cursor() as cursor:
        cursor.execute(sql, [day, adapt(timezone.now()), adapt(start), adapt(end)])
        return max(cursor.rowcount, 0)
