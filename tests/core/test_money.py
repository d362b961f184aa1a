from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from carm_portal import money


def test_half_up_to_cents():
    assert money.quantize("726.8625") == Decimal("726.86")
    assert money.quantize("0.005") == Decimal("0.01")
    assert money.quantize("-0.005") == Decimal("-0.01")
    assert money.quantize(Decimal("2.675")) == Decimal("2.68")  # a float would give 2.67


def test_floats_are_refused():
    with pytest.raises(TypeError):
        money.quantize(1.1)


def test_percent_of_matches_worked_example():
    vfd = money.quantize(Decimal("10000") * Decimal("1.3650"))
    duty = money.percent_of(vfd, Decimal("0.065"))
    gst = money.percent_of(vfd + duty, Decimal("0.05"))
    assert (vfd, duty, gst, duty + gst) == (
        Decimal("13650.00"), Decimal("887.25"), Decimal("726.86"), Decimal("1614.11")
    )


def test_format_cad():
    assert money.format_cad(Decimal("1234.5")) == "$1,234.50"
    assert money.format_cad(Decimal("-650")) == "-$650.00"


@given(st.lists(st.decimals(min_value=-10**9, max_value=10**9, places=2, allow_nan=False), max_size=50))
def test_total_is_exact_and_two_places(amounts):
    result = money.total(amounts)
    assert result == sum(amounts, Decimal("0"))
    assert result.as_tuple().exponent == -2
