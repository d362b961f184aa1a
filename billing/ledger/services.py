"""Posting to the ledger, and balances.

Periods and due dates come from ``carm_portal.calendar`` (the one calendar).

``post_entry`` is the one write path. It is idempotent: a retried post with the same key
returns the entry already written, never a second one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import date
from decimal import Decimal

from django.contrib.contenttypes.models import ContentType
from django.db import IntegrityError, connection, models, transaction
from django.db.models import Sum
from django.utils import timezone

from accounts.models import ProgramAccount, User
from carm_portal import calendar
from carm_portal.money import ZERO, quantize

from .models import BREAKDOWN_FIELDS, DUTIES_AND_TAXES_FIELDS, LedgerEntry
from .texts import Text

__all__ = [
    "build_entry",
    "post_entry",
    "post_entries_bulk",
    "balance",
    "source_entries",
    "source_total",
]

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
    description: Text | str = "",
    created_by: User | None = None,
    posted_on: date | None = None,
) -> LedgerEntry:
    """An unsaved, validated entry. Without a breakdown the whole amount is "other".

    ``description`` is a ``texts.Text`` (a catalogue code and its values, shown in the reader's
    language) from code that posts; a plain string only for text a person typed."""
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
    code, params = "", {}
    if isinstance(description, Text):
        code, params, description = description.code, description.params, description.english()
    if billing_period is None:
        billing_period = calendar.posting_period(effective_date, posted_on=posted_on or timezone.localdate())
    entry = LedgerEntry(
        program_account=program_account,
        kind=kind,
        amount=amount,
        effective_date=effective_date,
        billing_period=billing_period,
        reference=reference[:40],
        description=description[:200],
        description_code=code,
        description_params=params,
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
    description: Text | str = "",
    created_by: User | None = None,
    posted_on: date | None = None,
) -> LedgerEntry:
    """Write one entry; a retry with the same ``idempotency_key`` returns the entry already written.

    ``amount`` is signed (positive: owed by the importer). Give it, or a ``breakdown`` by tax kind
    (duty, sima, excise_duty, excise_tax, gst, other) that sums to it; without a breakdown the whole
    amount is "other". ``billing_period`` defaults to the period the entry lands in when posted
    on ``posted_on`` (today); a period whose statement is already issued moves to the next open
    one. A key reused for a different effect is a caller bug: ``ValueError``.
    """
    entry = build_entry(
        program_account=program_account, kind=kind, effective_date=effective_date, idempotency_key=idempotency_key,
        amount=amount, breakdown=breakdown, billing_period=billing_period, source=source, reference=reference,
        description=description, created_by=created_by, posted_on=posted_on,
    )
    if connection.in_atomic_block:
        # Inside the caller's transaction no savepoint of our own: nothing is written before the
        # insert, which has its savepoint below, so a failure leaves the caller's work intact.
        return _insert_entry(entry)
    with transaction.atomic():  # the open-period read and the insert together
        return _insert_entry(entry)


def _insert_entry(entry: LedgerEntry) -> LedgerEntry:
    entry.billing_period = open_period(entry.program_account_id, entry.billing_period)
    try:
        # Insert first, in a savepoint: a new key (nearly every post) costs no SELECT before; a key
        # already used (a retry, or a concurrent post that won) fails on the unique index, and
        # only then do we read the row that holds it.
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


# Which periods of an account already have an issued statement is the billing app's knowledge;
# billing sits above the ledger, so it hands the lookup down at start-up (BillingConfig.ready)
# instead of the ledger importing it. Without billing installed, no period is ever closed.
IssuedPeriods = Callable[[int, date], Iterable[date]]
_issued_periods: IssuedPeriods = lambda program_account_id, from_period: ()  # noqa: E731


def set_issued_periods(lookup: IssuedPeriods) -> None:
    """``lookup(program_account_id, from_period)`` -> the issued period ends on or after ``from_period``."""
    global _issued_periods
    _issued_periods = lookup


def open_period(program_account_id: int, period_end: date) -> date:
    """``period_end``, or the first later period whose statement is not issued yet: an issued
    statement is frozen, so nothing is ever added to its lines (one query)."""
    issued = set(_issued_periods(program_account_id, period_end))
    while period_end in issued:
        period_end = calendar.next_period(period_end)
    return period_end


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
