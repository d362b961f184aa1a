import os

import pytest

from accounts.models import Business
from accounts.roles import Role
from tests import factories

# In CI, tests that need PostgreSQL, Redis or Chromium must fail, never skip.
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


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
