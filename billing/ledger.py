"""Posting to the ledger, the harmonized billing calendar, and balances.

The billing period runs from the 18th of one month to the 17th of the next (carm-rules §4);
a period is named by its last day, the 17th. The statement (SOA) is issued on the 25th and
payment is due 10 weekdays after the 17th, holidays *counted* (brokers' reading of the rule),
with an override table for the deferred due dates CBSA publishes.

``post_entry`` is the one write path. It is idempotent: a retried post with the same key
returns the entry already written, never a second one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, timedelta
from decimal import Decimal

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import IntegrityError, models, transaction
from django.db.models import Sum
from django.utils import timezone

from accounts.models import ProgramAccount, User
from carm_portal.money import ZERO, quantize

from .models import BREAKDOWN_FIELDS, DUTIES_AND_TAXES_FIELDS, LedgerEntry

__all__ = [
    "billing_period_for",
    "period_start",
    "next_period",
    "statement_date",
    "posting_period",
    "add_weekdays",
    "payment_due_date",
    "build_entry",
    "post_entry",
    "post_entries_bulk",
    "balance",
    "source_entries",
    "source_total",
]

PERIOD_END_DAY = 17
STATEMENT_DAY = 25
PAYMENT_DUE_WEEKDAYS = 10


# --- The billing calendar ----------------------------------------------------------------------

def _add_month(day: date, months: int = 1) -> date:
    month_index = day.year * 12 + (day.month - 1) + months
    return date(month_index // 12, month_index % 12 + 1, day.day)


def billing_period_for(day: date) -> date:
    """The period (its last day, a 17th) that contains ``day``: 18th of one month to 17th of next."""
    if day.day <= PERIOD_END_DAY:
        return day.replace(day=PERIOD_END_DAY)
    return _add_month(day.replace(day=PERIOD_END_DAY))


def period_start(period_end: date) -> date:
    """The first day (the 18th of the previous month) of the period ending ``period_end``."""
    return _add_month(period_end.replace(day=PERIOD_END_DAY + 1), -1)


def next_period(period_end: date) -> date:
    return _add_month(period_end.replace(day=PERIOD_END_DAY))


def statement_date(period_end: date) -> date:
    """The SOA for a period is issued on the 25th of the month the period ends in."""
    return period_end.replace(day=STATEMENT_DAY)


def posting_period(anchor: date, *, posted_on: date) -> date:
    """The period an entry about ``anchor`` lands in when it is posted on ``posted_on``.

    The anchor's own period while its statement is not issued yet (a correction filed before
    the 25th appears on that SOA); otherwise the next statement to be issued. A statement that
    was issued is never changed.
    """
    period = billing_period_for(anchor)
    while posted_on >= statement_date(period):
        period = next_period(period)
    return period


def add_weekdays(start: date, count: int) -> date:
    """``count`` Monday-to-Friday days after ``start``; holidays are counted, not skipped."""
    day = start
    remaining = count
    while remaining > 0:
        day += timedelta(days=1)
        if day.weekday() < 5:
            remaining -= 1
    return day


def _due_date_overrides() -> dict[date, date]:
    raw = settings.CARM.get("PAYMENT_DUE_DATE_OVERRIDES", {}) or {}
    return {
        (k if isinstance(k, date) else date.fromisoformat(k)): (v if isinstance(v, date) else date.fromisoformat(v))
        for k, v in raw.items()
    }


# The DueDateOverride table, cached per process for a minute (due dates are looked up per CAD row in
# lists); saving or deleting an override clears this process's copy (signals in BillingConfig.ready).
_OVERRIDE_TTL_SECONDS = 60.0
_override_cache: dict = {"at": 0.0, "data": None}


def clear_due_date_cache(**_kwargs) -> None:
    _override_cache["data"] = None


def _table_override(period_end: date) -> date | None:
    """The admin-editable ``DueDateOverride`` row for the period, if any."""
    import time

    from django.db import DatabaseError

    from .models import DueDateOverride

    data = _override_cache["data"]
    if data is None or time.monotonic() - _override_cache["at"] > _OVERRIDE_TTL_SECONDS:
        try:
            data = dict(DueDateOverride.objects.values_list("period_end", "due_date"))
        except (DatabaseError, RuntimeError):  # no database (yet): pure date code, tests without a DB
            return None
        _override_cache.update(at=time.monotonic(), data=data)
    return data.get(period_end)


def payment_due_date(period_end: date) -> date:
    """10 weekdays after the period's 17th (2025-11-17 → 2025-12-01), unless CBSA deferred it.

    The ``DueDateOverride`` table (admin) wins; ``CARM["PAYMENT_DUE_DATE_OVERRIDES"]`` (a dict
    period end → CBSA's published due date) is the fallback.
    """
    override = _table_override(period_end)
    if override is None:
        override = _due_date_overrides().get(period_end)
    if override is not None:
        return override
    return add_weekdays(period_end, int(settings.CARM.get("PAYMENT_DUE_WEEKDAYS", PAYMENT_DUE_WEEKDAYS)))


# --- Posting ------------------------------------------------------------------------------------

def _source_fields(source: models.Model | None) -> dict:
    if source is None:
        return {"source_type": None, "source_id": None}
    return {"source_type": ContentType.objects.get_for_model(source), "source_id": source.pk}


def build_entry(
    *,
    program_account: ProgramAccount,
    kind: str,
    effective_date: date,
    idempotency_key: str,
    amount: Decimal | None = None,
    breakdown: Mapping[str, Decimal] | None = None,
    billing_period: date | None = None,
    source: models.Model | None = None,
    reference: str = "",
    description: str = "",
    created_by: User | None = None,
    posted_on: date | None = None,
) -> LedgerEntry:
    """An unsaved, validated entry. Without a breakdown the whole amount is "other"."""
    if not idempotency_key:
        raise ValueError("A ledger entry needs an idempotency key.")
    parts = dict.fromkeys(BREAKDOWN_FIELDS, ZERO)
    if breakdown:
        unknown = set(breakdown) - set(BREAKDOWN_FIELDS)
        if unknown:
            raise ValueError(f"Unknown breakdown kinds: {sorted(unknown)}")
        parts.update({k: quantize(v) for k, v in breakdown.items()})
        summed = quantize(sum(parts.values(), ZERO))
        if amount is not None and quantize(amount) != summed:
            raise ValueError(f"Amount {amount} does not equal its breakdown ({summed}).")
        amount = summed
    elif amount is None:
        raise ValueError("Give an amount or a breakdown.")
    else:
        amount = quantize(amount)
        parts["other"] = amount
    if billing_period is None:
        billing_period = posting_period(effective_date, posted_on=posted_on or timezone.localdate())
    entry = LedgerEntry(
        program_account=program_account,
        kind=kind,
        amount=amount,
        effective_date=effective_date,
        billing_period=billing_period,
        reference=reference[:40],
        description=description[:200],
        idempotency_key=idempotency_key,
        created_by=created_by if created_by is not None and created_by.is_authenticated else None,
        **parts,
        **_source_fields(source),
    )
    entry.clean()
    return entry


def _same_effect(existing: LedgerEntry, new: LedgerEntry) -> bool:
    return (
        existing.program_account_id == new.program_account_id
        and existing.kind == new.kind
        and existing.amount == new.amount
    )


@transaction.atomic
def post_entry(
    *,
    program_account: ProgramAccount,
    kind: str,
    effective_date: date,
    idempotency_key: str,
    amount: Decimal | None = None,
    breakdown: Mapping[str, Decimal] | None = None,
    billing_period: date | None = None,
    source: models.Model | None = None,
    reference: str = "",
    description: str = "",
    created_by: User | None = None,
    posted_on: date | None = None,
) -> LedgerEntry:
    """Write one entry; a retry with the same ``idempotency_key`` returns the entry already written.

    ``amount`` is signed (positive: owed by the importer). Give it, or a ``breakdown`` by tax kind
    (duty, sima, excise_duty, excise_tax, gst, other) that sums to it; without a breakdown the whole
    amount is "other". ``billing_period`` defaults to the period the entry lands in when posted
    on ``posted_on`` (today). A key reused for a different effect is a caller bug: ``ValueError``.
    """
    entry = build_entry(
        program_account=program_account, kind=kind, effective_date=effective_date, idempotency_key=idempotency_key,
        amount=amount, breakdown=breakdown, billing_period=billing_period, source=source, reference=reference,
        description=description, created_by=created_by, posted_on=posted_on,
    )
    existing = LedgerEntry.objects.filter(idempotency_key=entry.idempotency_key).first()
    if existing is None:
        try:
            # A savepoint: when a concurrent post with the same key wins, we read its row.
            with transaction.atomic():
                entry.save()
            return entry
        except IntegrityError:
            existing = LedgerEntry.objects.filter(idempotency_key=entry.idempotency_key).first()
            if existing is None:
                raise
    if not _same_effect(existing, entry):
        raise ValueError(f"Idempotency key {entry.idempotency_key!r} was used for a different entry.")
    return existing


def post_entries_bulk(entries: Iterable[LedgerEntry], *, batch_size: int = 2000) -> list[LedgerEntry]:
    """Insert entries built with ``build_entry`` in batches (load tools, bulk imports).

    No idempotency lookup: callers run it inside the transaction that creates the sources, so a
    rerun fails on the unique key instead of charging twice.
    """
    entries = list(entries)
    for entry in entries:
        entry.clean()
    return LedgerEntry.objects.bulk_create(entries, batch_size=batch_size)


# --- Reading --------------------------------------------------------------------------------------

def balance(program_account: ProgramAccount, as_of: date | None = None) -> Decimal:
    """What the account owes (negative: its credit), summed in SQL over entries effective by ``as_of``."""
    qs = LedgerEntry.objects.owing().filter(program_account=program_account)
    if as_of is not None:
        qs = qs.filter(effective_date__lte=as_of)
    return quantize(qs.aggregate(total=Sum("amount"))["total"] or ZERO)


def source_entries(source: models.Model) -> models.QuerySet[LedgerEntry]:
    return LedgerEntry.objects.filter(**_source_fields(source))


def source_total(source: models.Model, *, kinds: Iterable[str] | None = None) -> dict[str, Decimal]:
    """{"amount", "duty", ..., "duties_and_taxes"} summed over a source's entries, in SQL."""
    qs = source_entries(source)
    if kinds is not None:
        qs = qs.filter(kind__in=list(kinds))
    sums = qs.aggregate(amount=Sum("amount"), **{f: Sum(f) for f in BREAKDOWN_FIELDS})
    out = {k: quantize(v or ZERO) for k, v in sums.items()}
    out["duties_and_taxes"] = quantize(sum((out[f] for f in DUTIES_AND_TAXES_FIELDS), ZERO))
    return out
