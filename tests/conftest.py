import os

import pytest

from accounts.models import Business
from accounts.roles import Role
from tests import factories

# In CI, tests that need PostgreSQL, Redis or Chromium must fail, never skip.
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
UNDER_LIBFAKETIME = "libfaketime" in os.environ.get("LD_PRELOAD", "")


def pytest_report_header(config):
    import datetime as dt

    return f"today: {dt.date.today():%Y-%m-%d %a}" + (" (libfaketime)" if UNDER_LIBFAKETIME else "")


def pytest_sessionstart(session):
    """Runs on another date go through scripts/test-on-date.sh, which names the day it expects
    (a run that is not really on it fails) and makes Python's sleep work under libfaketime."""
    import datetime as dt
    import time

    if UNDER_LIBFAKETIME and not getattr(time.sleep, "carm_faketime_guard", False):
        pytest.exit("under faketime, run the tests through scripts/test-on-date.sh DAY", returncode=4)
    expected = os.environ.get("CARM_TEST_EXPECT_TODAY")
    if expected and dt.date.today().isoformat() != expected:
        pytest.exit(f"CARM_TEST_EXPECT_TODAY={expected}, but today is {dt.date.today()}", returncode=4)


@pytest.fixture(autouse=True)
def _fast_hashing_and_no_lockout(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _fresh_reference_tables():
    """Admin-edited tables are memoized per process and versioned in the cache; a test's rows
    are rolled back without any commit hook firing, so every test starts from nothing."""
    from django.core.cache import cache

    from carm_portal import reference_tables

    reference_tables.clear_local()
    cache.clear()


@pytest.fixture(autouse=True)
def _warm_reference_tables(request, _fresh_reference_tables):
    """Tests with a database read the admin tables once before their body, so query counts
    measure the page or endpoint, not which test happened to load the process memo first."""
    marker = request.node.get_closest_marker("django_db")
    transactional = "transactional_db" in request.fixturenames or "live_server" in request.fixturenames or (
        marker is not None and marker.kwargs.get("transaction"))
    if not (marker is not None or transactional or "db" in request.fixturenames):
        return
    request.getfixturevalue("transactional_db" if transactional else "db")
    from carm_portal import reference_tables

    reference_tables.holiday_overrides()
    reference_tables.due_date_overrides()
    reference_tables.interest_rates()


@pytest.fixture
def importer(db):
    """An importer business with two RM accounts and a BAM (``importer.bam``)."""
    business = factories.make_business(name="Maple Imports Inc.", accounts=2)
    business.bam = factories.add_member(business, role=Role.BAM)
    return business


@pytest.fixture
def other_importer(db):
    business = factories.make_business(name="Other Goods Ltd.", accounts=1)
    business.bam = factories.add_member(business, role=Role.BAM)
    return business


@pytest.fixture
def broker(db):
    """A customs broker firm with a BAM (``broker.bam``)."""
    business = factories.make_business(kind=Business.Kind.BROKER, name="Border Brokers", accounts=0)
    business.bam = factories.add_member(business, role=Role.BAM)
    return business
