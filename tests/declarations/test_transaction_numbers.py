"""Transaction numbers: the pluggable check and the concurrency-safe generator."""

import pytest
from django.core.exceptions import ValidationError
from stdnum import luhn

from declarations import transaction_numbers as tn
from declarations.models import TransactionNumberCounter


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


@pytest.mark.django_db
def test_reserve_hands_out_consecutive_valid_unique_numbers():
    first = tn.reserve("12345", 3)
    second = tn.reserve("12345")
    numbers = first + second
    assert len(set(numbers)) == 4
    assert all(len(n) == 14 and n.startswith("12345") and luhn.is_valid(n) for n in numbers)
    assert [int(n[5:13]) for n in numbers] == [1, 2, 3, 4]
    assert TransactionNumberCounter.objects.get(prefix="12345").last_value == 4


@pytest.mark.django_db
def test_a_full_counter_refuses_and_keeps_its_value():
    last = 10**tn.COUNTER_DIGITS - 3
    TransactionNumberCounter.objects.create(prefix="12345", last_value=last)
    assert [int(n[5:13]) for n in tn.reserve("12345", 2)] == [last + 1, last + 2]
    with pytest.raises(ValueError, match="exhausted"):
        tn.reserve("12345")
    assert TransactionNumberCounter.objects.get(prefix="12345").last_value == last + 2
