"""Transaction numbers: the pluggable check and the concurrency-safe generator."""

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from stdnum import luhn

from declarations import transaction_numbers as tn
from declarations.models import TransactionNumberCounter

from .conftest import numbers_afresh


def test_luhn_validator_accepts_a_valid_number_and_rejects_a_bad_check_digit():
    good = tn.with_check_digit("1234500000001")
    tn.luhn_validator(good)
    bad = good[:-1] + str((int(good[-1]) + 1) % 10)
    with pytest.raises(ValidationError):
        tn.luhn_validator(bad)
    for wrong in ("123", "1234567890123a", "123456789012345"):
        with pytest.raises(ValidationError):
            tn.luhn_validator(wrong)


def test_the_validator_is_pluggable(settings):
    number = tn.with_check_digit("1234500000001")
    bad = number[:-1] + str((int(number[-1]) + 1) % 10)
    settings.CARM = {**settings.CARM, "TRANSACTION_NUMBER_VALIDATOR":
                     "declarations.transaction_numbers.format_only_validator"}
    tn.validate(bad)
    settings.CARM = {**settings.CARM, "TRANSACTION_NUMBER_VALIDATOR": tn.DEFAULT_VALIDATOR}
    with pytest.raises(ValidationError):
        tn.validate(bad)


def test_prefix_is_deterministic_and_five_digits():
    assert tn.account_security_prefix("123456782") == tn.account_security_prefix("123456782")
    assert len(tn.account_security_prefix("123456782")) == 5
    assert tn.account_security_prefix("123456782") != tn.account_security_prefix("123026635")


@pytest.fixture
def fresh_prefix(db):
    return numbers_afresh("12345")


def last_handed_out(prefix: str) -> int:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT last_value FROM {tn.sequence_name(prefix)}")  # noqa: S608 - our own name
            return cursor.fetchone()[0]
    return TransactionNumberCounter.objects.get(prefix=prefix).last_value


def test_reserve_hands_out_consecutive_valid_unique_numbers(fresh_prefix):
    first = tn.reserve(fresh_prefix, 3)
    second = tn.reserve(fresh_prefix)
    numbers = first + second
    assert len(set(numbers)) == 4
    assert all(len(n) == 14 and n.startswith(fresh_prefix) and luhn.is_valid(n) for n in numbers)
    assert [int(n[5:13]) for n in numbers] == [1, 2, 3, 4]
    assert last_handed_out(fresh_prefix) == 4


def test_numbers_continue_after_the_counter_row(fresh_prefix):
    """Numbers handed out before (a counter row) are never handed out again, on either database."""
    TransactionNumberCounter.objects.create(prefix=fresh_prefix, last_value=41)
    assert [int(n[5:13]) for n in tn.reserve(fresh_prefix, 2)] == [42, 43]


def test_a_full_counter_refuses_and_stays_full(fresh_prefix):
    last = 10**tn.COUNTER_DIGITS - 3
    TransactionNumberCounter.objects.create(prefix=fresh_prefix, last_value=last)
    assert [int(n[5:13]) for n in tn.reserve(fresh_prefix, 2)] == [last + 1, last + 2]
    with pytest.raises(ValueError, match="exhausted"):
        tn.reserve(fresh_prefix)
    with pytest.raises(ValueError, match="exhausted"):
        tn.reserve(fresh_prefix, 3)
    if connection.vendor != "postgresql":  # the row is not bumped past the end (a sequence just goes on)
        assert TransactionNumberCounter.objects.get(prefix=fresh_prefix).last_value == last + 2
