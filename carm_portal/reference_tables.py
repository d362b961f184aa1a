"""Admin-edited reference tables, read in every web and worker process and kept fresh across them.

Public API (each returns immutable data)::

    holiday_overrides()   -> (frozenset of days added as holidays, frozenset of statutory days removed)
    due_date_overrides()  -> Mapping period_end -> due_date (a read-only MappingProxyType)
    interest_rates()      -> ((effective_from, annual_rate), ...) ascending by date

How an admin edit reaches every process:

* The Django cache (Redis in production, ``REDIS_URL``; locmem in the demo) holds a version per
  table, ``reftable:<name>:version``, and the rows themselves under ``reftable:<name>:data:<version>``.
* Saving or deleting a row (``post_save`` / ``post_delete``, connected in ``CarmPortalConfig.ready``;
  the admin's bulk "delete selected" sends ``post_delete`` per row)
  calls ``bump(name)``: the saving process drops its memo at once, and once the transaction
  commits the cache version is incremented (``transaction.on_commit``), so a process that sees
  the new version never reads the old rows. Code that changes these tables without signals
  (``QuerySet.update``, ``bulk_create``, raw SQL) must call ``bump(name)`` itself; ``migrate``
  bumps every table (migrations use historical models, which send no signals).
* Each process memoizes (value, version, recheck time) and asks the cache for the version at most
  every ``carm("REFERENCE_TABLE_RECHECK_SECONDS")`` (2 s): the common path is a dict lookup and a
  clock read, no I/O (the setting is read when rechecking: a new value applies from the next one).
  A new version means reload (from the cache, else the database); a version missing from the
  cache (evicted, Redis flushed) is recreated with a fresh, never reused number and the rows are
  reloaded from the database.
* Inside a transaction that changed a table (signals or ``bump``), that thread reads the table
  from its own connection (it sees its uncommitted rows) and keeps that copy to itself: nothing
  uncommitted reaches the process memo or the shared cache. A rollback discards the copy.
* No silent fallback: a database error propagates; empty data is never made up. When the cache
  (Redis) is down, reads go to the database (logged as a warning, rechecked on the usual
  interval), so pages keep working; saving a row then fails loudly, since other processes could
  not be told.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from types import MappingProxyType
from typing import Any

from django.core.cache import cache
from django.db import transaction

from carm_portal.conf import carm

__all__ = ["holiday_overrides", "due_date_overrides", "interest_rates", "bump", "clear_local", "changed", "bump_all",
           "register", "get"]

logger = logging.getLogger(__name__)
_CACHE_DOWN = -1  # no cache hands out this version: the next recheck asks the cache again
DATA_TIMEOUT_SECONDS = 24 * 3600  # rows of superseded versions expire; the version keys never do


# --- The tables ---------------------------------------------------------------------------------

def _holiday_rows() -> list:
    from carm_portal.models import HolidayOverride

    return list(HolidayOverride.objects.order_by("day").values_list("day", "is_holiday"))


def _build_holidays(rows) -> tuple[frozenset[date], frozenset[date]]:
    return frozenset(d for d, h in rows if h), frozenset(d for d, h in rows if not h)


def _due_date_rows() -> list:
    from carm_portal.models import DueDateOverride

    return list(DueDateOverride.objects.order_by("period_end").values_list("period_end", "due_date"))


def _build_due_dates(rows) -> Mapping[date, date]:
    return MappingProxyType(dict(rows))


def _interest_rows() -> list:
    from carm_portal.models import InterestRate

    return list(InterestRate.objects.order_by("effective_from").values_list("effective_from", "annual_rate"))


def _build_rates(rows) -> tuple[tuple[date, Decimal], ...]:
    return tuple(sorted((d, r) for d, r in rows))


@dataclass(frozen=True)
class _Table:
    load: Callable[[], list]  # the rows, picklable (they go to the shared cache)
    build: Callable[[list], Any]  # the immutable value handed to callers
    model: str  # app_label.ModelName whose signals bump it


TABLES: dict[str, _Table] = {
    "holiday_overrides": _Table(_holiday_rows, _build_holidays, "carm_portal.HolidayOverride"),
    "due_date_overrides": _Table(_due_date_rows, _build_due_dates, "carm_portal.DueDateOverride"),
    "interest_rates": _Table(_interest_rows, _build_rates, "carm_portal.InterestRate"),
}
_BY_MODEL = {table.model: name for name, table in TABLES.items()}


def register(name: str, *, load: Callable[[], list], build: Callable[[list], Any], model: str) -> None:
    """A higher app's admin-edited table, kept fresh the same way (called from its AppConfig.ready,
    which also connects ``changed`` to the model's ``post_save`` / ``post_delete``): the layers
    keep carm_portal from importing it. Read it with ``get(name)``."""
    TABLES[name] = _Table(load, build, model)
    _BY_MODEL[model] = name
    _generation.setdefault(name, 0)


def get(name: str) -> Any:
    """The current value of a table registered with ``register``."""
    return _get(name)


# --- Public API ---------------------------------------------------------------------------------

def holiday_overrides() -> tuple[frozenset[date], frozenset[date]]:
    """(days added as holidays, statutory days removed), from ``HolidayOverride``."""
    return _get("holiday_overrides")


def due_date_overrides() -> Mapping[date, date]:
    """``DueDateOverride``: period end → CBSA's published due date (read-only)."""
    return _get("due_date_overrides")


def interest_rates() -> tuple[tuple[date, Decimal], ...]:
    """``InterestRate``: (in force from, annual rate), ascending by date; each holds until the next."""
    return _get("interest_rates")


# --- Process memo -------------------------------------------------------------------------------

_UNSET: Any = object()
_STALE = float("-inf")  # a memo to re-check on its next read
_clock = time.monotonic  # tests move it forward
_memo: dict[str, tuple[Any, int | None, float]] = {}  # name -> (value, version, recheck at)
_generation: dict[str, int] = dict.fromkeys(TABLES, 0)  # +1 whenever the memo is dropped
_lock = threading.Lock()


@dataclass
class _Pending:
    """This thread's transaction changed the table: its own copy, never shared."""

    callback: Callable[[], None]
    connection: Any  # the connection whose transaction made the change
    value: Any = _UNSET
    savepoints: tuple = field(default=())  # the savepoints open when ``value`` was read


# Per thread, as Django's connections are under WSGI and Celery (asgiref's Local, which Django
# uses, costs ~3 µs a read: too slow for the per-day path). Entries remember their connection, so
# code sharing a thread with another connection (ASGI) ignores them.
class _Thread(threading.local):
    def __init__(self) -> None:
        self.pending: dict[str, _Pending] = {}


_tx = _Thread()


def _get(name: str):
    pending = _tx.pending
    if pending and name in pending:
        value = _pending_value(name, pending)
        if value is not _UNSET:
            return value
    memo = _memo.get(name)
    if memo is not None and _clock() < memo[2]:
        return memo[0]
    return _refresh(name, memo)


def _version_key(name: str) -> str:
    return f"reftable:{name}:version"


def _data_key(name: str, version: int) -> str:
    return f"reftable:{name}:data:{version}"


def _fresh_version() -> int:
    # Never a number handed out before, even after Redis lost every key: a process still holding
    # an old version must not mistake a recreated one for its own.
    return time.time_ns()


def _refresh(name: str, memo) -> Any:
    generation = _generation[name]
    table = TABLES[name]
    key = _version_key(name)
    # Read the version *before* the rows: rows stored under version v were read after v existed,
    # and a bump happens after its commit, so they are never older than what v stands for.
    try:
        version = cache.get(key)
        if version is None:
            cache.add(key, _fresh_version(), timeout=None)
            version = cache.get(key)
    except Exception:  # noqa: BLE001 - the cache (Redis) is down: read the table itself, and say so
        logger.warning("Cache unavailable: reading reference table %s from the database", name, exc_info=True)
        memo, version = None, _CACHE_DOWN
    if version == _CACHE_DOWN:
        value = table.build(table.load())
    elif memo is not None and version is not None and memo[1] == version:
        value = memo[0]
    else:
        rows = cache.get(_data_key(name, version)) if version is not None else None
        if rows is None:
            rows = table.load()  # a DatabaseError propagates: no made-up empty table
            if version is not None:
                cache.set(_data_key(name, version), rows, DATA_TIMEOUT_SECONDS)
        value = table.build(rows)
    recheck_at = _clock() + float(carm("REFERENCE_TABLE_RECHECK_SECONDS")) if version is not None else _STALE
    with _lock:
        if _generation[name] != generation:
            recheck_at = _STALE  # dropped meanwhile (a save in this process): look at the version next call
        _memo[name] = (value, version, recheck_at)
    return value


def _drop_memo(name: str) -> None:
    with _lock:
        _generation[name] += 1
        _memo.pop(name, None)


def clear_local() -> None:
    """Forget this process's memos and this thread's uncommitted copies (tests; never needed
    for correctness: edits arrive through the cache version)."""
    for name in TABLES:
        _drop_memo(name)
    _tx.pending = {}


# --- Uncommitted changes in this thread ---------------------------------------------------------

def _queued(connection, callback) -> bool:
    return connection.in_atomic_block and any(func is callback for _, func, _ in connection.run_on_commit)


def _pending_value(name: str, pending: dict) -> Any:
    entry = pending[name]
    connection = transaction.get_connection()
    if entry.connection is not connection:
        return _UNSET
    if not _queued(connection, entry.callback):
        # The callback would have cleared this on commit: the transaction (or the savepoint the
        # change was made in) rolled back. The shared path is right again.
        del pending[name]
        return _UNSET
    savepoints = tuple(connection.savepoint_ids)
    if entry.value is _UNSET or savepoints[: len(entry.savepoints)] != entry.savepoints:
        # Read again after a savepoint it was read in has ended (it may have rolled back).
        table = TABLES[name]
        entry.value = table.build(table.load())
        entry.savepoints = savepoints
    return entry.value


# --- Invalidation -------------------------------------------------------------------------------

def _incr_version(name: str) -> None:
    key = _version_key(name)
    try:
        cache.incr(key)
    except ValueError:  # missing: a fresh number is a new version
        if not cache.add(key, _fresh_version(), timeout=None):
            cache.incr(key)


def bump(name: str) -> None:
    """Table ``name`` changed: drop this process's copy now; tell every process once committed.

    Called by the signals; call it yourself after ``QuerySet.update``, ``bulk_create`` or raw SQL.
    """
    if name not in TABLES:
        raise KeyError(f"Unknown reference table {name!r}; known: {sorted(TABLES)}")
    _drop_memo(name)
    connection = transaction.get_connection()
    if not connection.in_atomic_block:  # autocommit: already committed
        _publish(name, None)
        return
    pending = _tx.pending
    entry = pending.get(name)
    if entry is not None and entry.connection is connection and _queued(connection, entry.callback):
        entry.value = _UNSET  # one version bump per transaction is enough
        return

    def callback() -> None:
        _publish(name, callback)

    pending[name] = _Pending(callback, connection)
    transaction.on_commit(callback)


def _publish(name: str, callback) -> None:
    pending = _tx.pending
    if pending and callback is not None and getattr(pending.get(name), "callback", None) is callback:
        del pending[name]
    try:
        _incr_version(name)
    finally:
        # After the increment: a thread that reads the old version meanwhile rechecks next call.
        _drop_memo(name)


def changed(sender, **_kwargs) -> None:
    """``post_save`` / ``post_delete`` receiver for the tables' models (connected in ``ready``)."""
    bump(_BY_MODEL[sender._meta.label])


def bump_all(**_kwargs) -> None:
    """``post_migrate`` receiver: data migrations change rows without signals."""
    for name in TABLES:
        bump(name)
