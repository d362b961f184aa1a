"""carm_portal.conf: every CARM business-rule setting declared once, read typed through carm()."""

import re
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from django.core import checks
from django.core.exceptions import ImproperlyConfigured

from carm_portal import conf
from carm_portal.conf import DECLARED, carm, check_carm_settings

ROOT = Path(__file__).resolve().parents[2]
SKIP_DIRS = {".venv", ".git", "tests", "node_modules", "__pycache__"}
NOT_READS = {ROOT / "carm_portal" / "conf.py", ROOT / "carm_portal" / "settings.py"}

# Declared keys no code reads yet. Empty it as the code that reads them lands.
# New (their code is being written): the due-date / billing-cycle calendar, appeal-credit interest
# and the admin-edited reference tables' cache re-check.
# LATE_PAYMENT_PENALTY: was in settings.CARM before conf.py but never read; kept on request.
PENDING_USE: set[str] = set()

# Files that still read settings.CARM themselves (being rewritten); empty it as they move to carm().
NOT_YET_ON_CARM: set[str] = set()


def _sources():
    for path in ROOT.rglob("*.py"):
        rel = path.relative_to(ROOT)
        if SKIP_DIRS & set(rel.parts) or any(p.endswith(".egg-info") for p in rel.parts) or path in NOT_READS:
            continue
        yield rel.as_posix(), path.read_text(encoding="utf-8")


def _reads(key: str) -> re.Pattern:
    # carm("KEY"), and for files not moved yet settings.CARM.get("KEY" / settings.CARM["KEY"
    return re.compile(rf"""carm\(\s*["']{key}["']|CARM(?:\.get\(|\[)\s*["']{key}["']""")


def test_reading_an_undeclared_key_raises():
    with pytest.raises(ImproperlyConfigured, match="NOT_A_CARM_KEY"):
        carm("NOT_A_CARM_KEY")


def test_an_override_through_the_settings_fixture_is_seen(settings):
    settings.CARM = {**settings.CARM, "GST_RATE": Decimal("0.13"), "CAD_AUTO_ACCEPT": False}
    assert carm("GST_RATE") == Decimal("0.13")
    assert carm("CAD_AUTO_ACCEPT") is False


def test_a_key_missing_from_settings_gets_its_declared_default(settings):
    settings.CARM = {"GST_RATE": Decimal("0.13")}
    assert carm("CAD_DUE_BUSINESS_DAYS") == 5
    assert carm("RPP_MINIMUM") == Decimal("5000.00")
    del settings.CARM
    assert carm("GST_RATE") == Decimal("0.05")


def test_every_default_has_its_declared_type():
    for key, setting in DECLARED.items():
        assert type(setting.default) is setting.type, key
        assert setting.doc, key


@pytest.mark.parametrize(("key", "value", "expected"), [
    ("RPP_MINIMUM", "25000.00", Decimal("25000.00")),
    ("RPP_MINIMUM", 25000, Decimal("25000")),
    ("CAD_AUTO_ACCEPT", "false", False),
    ("CAD_AUTO_ACCEPT", " On ", True),
    ("UPLOAD_MAX_BYTES", "1024", 1024),
    ("REFERENCE_TABLE_RECHECK_SECONDS", 3, 3.0),
    ("REFERENCE_TABLE_RECHECK_SECONDS", "0.5", 0.5),
    ("TRANSACTION_NUMBER_VALIDATOR", "x.y", "x.y"),
])
def test_values_are_coerced_to_the_declared_type(settings, key, value, expected):
    settings.CARM = {**settings.CARM, key: value}
    got = carm(key)
    assert got == expected
    assert type(got) is DECLARED[key].type


def test_a_date_setting_is_read_from_an_iso_string(settings, monkeypatch):
    monkeypatch.setitem(DECLARED, "SOME_DATE", conf.Setting(date, date(2025, 1, 1), "test only"))
    settings.CARM = {"SOME_DATE": "2025-03-01"}
    assert carm("SOME_DATE") == date(2025, 3, 1)
    settings.CARM = {}
    assert carm("SOME_DATE") == date(2025, 1, 1)


@pytest.mark.parametrize(("key", "value"), [
    ("CAD_AUTO_ACCEPT", "maybe"),
    ("CAD_AUTO_ACCEPT", 1),
    ("UPLOAD_MAX_BYTES", "ten"),
    ("UPLOAD_MAX_BYTES", True),
    ("UPLOAD_MAX_BYTES", 1.5),
    ("GST_RATE", 0.05),  # a float is not exact money
    ("GST_RATE", "NaN"),
    ("GST_RATE", "five percent"),
    ("TRANSACTION_NUMBER_VALIDATOR", None),
])
def test_a_value_of_the_wrong_type_raises_naming_the_key(settings, key, value):
    settings.CARM = {**settings.CARM, key: value}
    with pytest.raises(ImproperlyConfigured, match=key):
        carm(key)


def test_the_project_settings_pass_the_check():
    assert check_carm_settings() == []


def test_the_check_is_registered():
    assert check_carm_settings in checks.registry.registry.get_checks()


def test_the_check_flags_an_unknown_key_and_a_wrong_type(settings):
    settings.CARM = {**settings.CARM, "NOT_A_CARM_KEY": 1, "GST_RATE": "abc", "CAD_AUTO_ACCEPT": "false"}
    errors = check_carm_settings()
    assert sorted(e.id for e in errors) == ["carm.E002", "carm.E003"]
    by_id = {e.id: e.msg for e in errors}
    assert "NOT_A_CARM_KEY" in by_id["carm.E002"]
    assert "GST_RATE" in by_id["carm.E003"]


def test_the_check_flags_a_carm_that_is_not_a_dict(settings):
    settings.CARM = [("GST_RATE", "0.05")]
    assert [e.id for e in check_carm_settings()] == ["carm.E001"]


def test_every_declared_key_is_read_somewhere():
    sources = [text for _path, text in _sources()]
    read = {key for key in DECLARED if any(_reads(key).search(text) for text in sources)}
    unused = set(DECLARED) - read - PENDING_USE
    assert not unused, f"declared in carm_portal/conf.py but never read: {sorted(unused)}"
    now_used = PENDING_USE & read
    assert not now_used, f"now read: remove from PENDING_USE in this test: {sorted(now_used)}"
    assert set(DECLARED) >= PENDING_USE, sorted(PENDING_USE - set(DECLARED))


def test_code_reads_carm_settings_only_through_carm():
    direct = re.compile(r"settings\.CARM\b")
    readers = {path for path, text in _sources() if direct.search(text)}
    stray = readers - NOT_YET_ON_CARM
    assert not stray, f"read settings.CARM directly (use carm_portal.conf.carm): {sorted(stray)}"
    moved = NOT_YET_ON_CARM - readers
    assert not moved, f"now on carm(): remove from NOT_YET_ON_CARM in this test: {sorted(moved)}"
