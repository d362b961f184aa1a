"""Admin-edited reference tables (carm_portal/reference_tables.py): an edit reaches every process.

Same process: a save or delete is seen at once (the memo is dropped on save), an uncommitted
change stays in its transaction, and another process's committed edit arrives through the cache
version. Two processes: a second Python process on the same PostgreSQL test database and Redis
sees an admin edit made here within seconds.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
from datetime import date
from decimal import Decimal
from types import MappingProxyType

import pytest
from django.core.cache import cache
from django.db import DatabaseError, connection, transaction
from django.urls import reverse

from carm_portal import reference_tables
from carm_portal.models import DueDateOverride, HolidayOverride, InterestRate
from carm_portal.reference_tables import due_date_overrides, holiday_overrides, interest_rates
from tests.celery_worker import ROOT, _unavailable, redis_url

DAY = date(2031, 3, 3)  # a Monday, no statutory holiday
CANADA_DAY = date(2031, 7, 1)


def version(name: str):
    return cache.get(f"reftable:{name}:version")


@pytest.fixture
def clock(monkeypatch):
    """The memo's clock, moved forward by hand."""
    now = [time.monotonic()]
    monkeypatch.setattr(reference_tables, "_clock", lambda: now[0])

    def advance(seconds: float) -> None:
        now[0] += seconds

    return advance


@pytest.fixture
def superuser_client(client, django_user_model):
    user = django_user_model.objects.create_superuser(email="root@example.com", password="x-pass-123")
    client.force_login(user)
    return client


# --- Same process -------------------------------------------------------------------------------

@pytest.mark.django_db
def test_holiday_override_added_and_removed_is_seen_at_once(django_assert_num_queries):
    assert holiday_overrides() == (frozenset(), frozenset())
    extra = HolidayOverride.objects.create(day=DAY, note="Snow day")
    HolidayOverride.objects.create(day=CANADA_DAY, is_holiday=False)
    assert holiday_overrides() == (frozenset({DAY}), frozenset({CANADA_DAY}))
    with django_assert_num_queries(0):  # the calendar's per-day calls cost nothing more
        for _ in range(100):
            holiday_overrides()

    extra.delete()
    assert holiday_overrides() == (frozenset(), frozenset({CANADA_DAY}))
    HolidayOverride.objects.all().delete()  # a bulk delete (the admin's action) sends post_delete per row
    assert holiday_overrides() == (frozenset(), frozenset())


@pytest.mark.django_db
def test_due_date_override_saved_edited_and_deleted_is_seen_at_once():
    period = date(2031, 3, 17)
    assert period not in due_date_overrides()
    row = DueDateOverride.objects.create(period_end=period, due_date=date(2031, 4, 1))
    assert due_date_overrides()[period] == date(2031, 4, 1)
    row.due_date = date(2031, 4, 2)
    row.save()
    assert due_date_overrides()[period] == date(2031, 4, 2)
    row.delete()
    assert period not in due_date_overrides()


@pytest.mark.django_db
def test_interest_rate_added_and_removed_is_seen_at_once_in_date_order():
    before = interest_rates()
    quarter = date(2040, 1, 1)
    earliest = date(2001, 1, 1)
    InterestRate.objects.create(effective_from=quarter, annual_rate=Decimal("0.123000"))
    InterestRate.objects.create(effective_from=earliest, annual_rate=Decimal("0.050000"))
    rates = interest_rates()
    assert rates[0] == (earliest, Decimal("0.050000"))
    assert rates[-1] == (quarter, Decimal("0.123000"))
    assert [d for d, _ in rates] == sorted(d for d, _ in rates)
    InterestRate.objects.filter(effective_from__in=[quarter, earliest]).delete()
    assert interest_rates() == before


@pytest.mark.django_db
def test_the_values_are_immutable():
    HolidayOverride.objects.create(day=DAY)
    DueDateOverride.objects.create(period_end=date(2031, 3, 17), due_date=date(2031, 4, 1))
    added, removed = holiday_overrides()
    assert isinstance(added, frozenset) and isinstance(removed, frozenset)
    due = due_date_overrides()
    assert isinstance(due, MappingProxyType)
    with pytest.raises(TypeError):
        due[date(2031, 4, 17)] = date(2031, 5, 1)
    rates = interest_rates()
    assert isinstance(rates, tuple) and all(isinstance(r, tuple) for r in rates)


@pytest.mark.django_db
def test_admin_add_and_bulk_delete_are_seen_at_once(superuser_client):
    assert holiday_overrides() == (frozenset(), frozenset())
    response = superuser_client.post(
        reverse("admin:carm_portal_holidayoverride_add"), {"day": DAY.isoformat(), "is_holiday": "on", "note": ""}
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert holiday_overrides() == (frozenset({DAY}), frozenset())

    pk = HolidayOverride.objects.get(day=DAY).pk
    response = superuser_client.post(
        reverse("admin:carm_portal_holidayoverride_changelist"),
        {"action": "delete_selected", "_selected_action": [pk], "post": "yes"},
    )
    assert response.status_code == 302
    assert holiday_overrides() == (frozenset(), frozenset())


@pytest.mark.django_db
def test_the_version_moves_once_per_committed_transaction(django_capture_on_commit_callbacks):
    holiday_overrides()
    start = version("holiday_overrides")
    with django_capture_on_commit_callbacks(execute=True):
        HolidayOverride.objects.create(day=DAY)
        HolidayOverride.objects.create(day=CANADA_DAY, is_holiday=False)
        assert version("holiday_overrides") == start  # not committed yet: other processes keep the old rows
        assert holiday_overrides() == (frozenset({DAY}), frozenset({CANADA_DAY}))  # this one sees them
    assert version("holiday_overrides") == start + 1
    assert holiday_overrides() == (frozenset({DAY}), frozenset({CANADA_DAY}))


@pytest.mark.django_db
def test_an_uncommitted_change_stays_in_its_transaction_and_a_rollback_forgets_it():
    holiday_overrides()  # the committed rows (none) are in the shared cache
    shared = f"reftable:holiday_overrides:data:{version('holiday_overrides')}"

    class Undo(Exception):
        pass

    with pytest.raises(Undo), transaction.atomic():
        HolidayOverride.objects.create(day=DAY)
        assert holiday_overrides() == (frozenset({DAY}), frozenset())
        assert cache.get(shared) == []  # nothing uncommitted is shared
        raise Undo

    assert holiday_overrides() == (frozenset(), frozenset())


@pytest.mark.django_db
def test_another_processes_commit_arrives_through_the_cache_version(settings, clock):
    """Rows written without signals stand for another process's edit; its bump is the cache incr."""
    settings.CARM = {**settings.CARM, "REFERENCE_TABLE_RECHECK_SECONDS": 2.0}
    reference_tables.clear_local()  # memoize on the test's clock, not at the conftest warm-up's time
    assert holiday_overrides() == (frozenset(), frozenset())
    HolidayOverride.objects.bulk_create([HolidayOverride(day=DAY)])  # no signal: not this process's save
    cache.incr("reftable:holiday_overrides:version")  # what that process's commit does

    clock(1.9)
    assert holiday_overrides() == (frozenset(), frozenset())  # memo: no I/O within the recheck interval
    clock(0.2)
    assert holiday_overrides() == (frozenset({DAY}), frozenset())


@pytest.mark.django_db
def test_a_version_lost_from_the_cache_means_reload_from_the_database(clock):
    assert holiday_overrides() == (frozenset(), frozenset())
    old = version("holiday_overrides")
    HolidayOverride.objects.bulk_create([HolidayOverride(day=DAY)])
    cache.clear()  # Redis flushed or the keys evicted

    clock(60)
    assert holiday_overrides() == (frozenset({DAY}), frozenset())
    assert version("holiday_overrides") not in (None, old)  # a fresh number, never one handed out before


@pytest.mark.django_db
@pytest.mark.parametrize(
    "read, model",
    [(holiday_overrides, HolidayOverride), (due_date_overrides, DueDateOverride), (interest_rates, InterestRate)],
)
def test_a_table_that_cannot_be_read_raises(read, model):
    """No silent fallback to empty data: the database error reaches the caller."""

    class Undo(Exception):
        pass

    with pytest.raises(Undo), transaction.atomic():  # DDL is transactional on SQLite and PostgreSQL
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE {connection.ops.quote_name(model._meta.db_table)}")
        reference_tables.clear_local()  # the conftest warmed the memo and the cache: force a read
        cache.clear()
        with pytest.raises(DatabaseError), transaction.atomic():
            read()
        raise Undo
    assert read() is not None  # the table is back


def test_without_database_access_it_raises_rather_than_returning_nothing():
    with pytest.raises(RuntimeError, match="Database access not allowed"):
        holiday_overrides()


def test_bump_of_an_unknown_table_raises():
    with pytest.raises(KeyError):
        reference_tables.bump("holidays")


# --- Two processes ------------------------------------------------------------------------------

WATCHER = r"""
import json, time
import django

django.setup()
from carm_portal.reference_tables import due_date_overrides, holiday_overrides

while True:
    added, removed = holiday_overrides()
    print(json.dumps({
        "added": sorted(d.isoformat() for d in added),
        "removed": sorted(d.isoformat() for d in removed),
        "due": {k.isoformat(): v.isoformat() for k, v in due_date_overrides().items()},
    }), flush=True)
    time.sleep(0.5)
"""


class Watcher:
    """A second Python process on the test database and Redis, printing the tables every 0.5 s."""

    def __init__(self, env: dict) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", WATCHER], cwd=ROOT, env=env,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        self.lines: queue.Queue = queue.Queue()
        self.output: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.output.append(line)
            self.lines.put(line)

    def wait_for(self, predicate, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                break
            try:
                state = json.loads(line)
            except ValueError:
                continue
            if predicate(state):
                return state
        last = "".join(self.output[-5:])
        raise AssertionError(f"the other process did not show it within {timeout} s; it printed:\n{last}")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


@pytest.mark.django_db(transaction=True)
def test_an_admin_edit_reaches_another_process_within_seconds(settings, superuser_client):
    if connection.vendor != "postgresql":
        _unavailable("two processes need a shared PostgreSQL test database (set DATABASE_URL)")
    url = redis_url()
    if not url:
        _unavailable("two processes need a shared cache: Redis (set CARM_TEST_REDIS_URL)")
    import redis

    try:
        redis.Redis.from_url(url).ping()
    except redis.RedisError as exc:
        _unavailable(f"Redis is not reachable at {url}: {exc}")

    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": url}}
    cache.clear()  # a private db number
    reference_tables.clear_local()
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "carm_portal.settings",
        "DATABASE_URL": f"postgres://{db['USER']}:{db.get('PASSWORD') or ''}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}",
        "REDIS_URL": url,
    }
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    period, due = date(2032, 3, 17), date(2032, 4, 5)

    watcher = Watcher(env)
    try:
        # Twice the old state: the second print comes from its memo, not a fresh load.
        for _ in range(2):
            watcher.wait_for(lambda s: s["added"] == [] and s["due"] == {}, timeout=60)

        response = superuser_client.post(
            reverse("admin:carm_portal_holidayoverride_add"), {"day": DAY.isoformat(), "is_holiday": "on", "note": ""}
        )
        assert response.status_code == 302
        response = superuser_client.post(
            reverse("admin:carm_portal_duedateoverride_add"),
            {"period_end": period.isoformat(), "due_date": due.isoformat(), "note": ""},
        )
        assert response.status_code == 302
        watcher.wait_for(
            lambda s: s["added"] == [DAY.isoformat()] and s["due"] == {period.isoformat(): due.isoformat()}, timeout=5
        )

        response = superuser_client.post(  # the admin's bulk action
            reverse("admin:carm_portal_holidayoverride_changelist"),
            {"action": "delete_selected", "_selected_action": [HolidayOverride.objects.get().pk], "post": "yes"},
        )
        assert response.status_code == 302
        watcher.wait_for(lambda s: s["added"] == [], timeout=5)
        assert watcher.process.poll() is None
    finally:
        watcher.stop()


@pytest.mark.django_db
def test_with_the_cache_down_reads_go_to_the_database(settings):
    """Redis down must not take pages down: the table is read from the database instead."""
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                                   "LOCATION": "redis://127.0.0.1:1/0"}}  # nothing listens there
    reference_tables.clear_local()
    HolidayOverride.objects.bulk_create([HolidayOverride(day=date(2031, 8, 4), is_holiday=True)])  # no signal
    assert date(2031, 8, 4) in reference_tables.holiday_overrides()[0]
