"""Duties and taxes: the worked example exactly, and properties over random lines."""

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from declarations.calculation import Totals, cad_totals, line_amounts, specific_amount

CENTS = Decimal("0.01")


def test_worked_example_1_exactly():
    # carm-rules, example 1: US$10,000 at 1.3650, MFN 6.5 %, no SIMA or excise.
    amounts = line_amounts(value_foreign=Decimal("10000"), exchange_rate=Decimal("1.3650"),
                           duty_rate=Decimal("0.065"), gst_rate=Decimal("0.05"))
    assert amounts.vfd == Decimal("13650.00")
    assert amounts.duty == Decimal("887.25")
    assert amounts.gst == Decimal("726.86")  # 726.8625 rounded half up
    assert amounts.duties_and_taxes == Decimal("1614.11")
    assert str(amounts.duties_and_taxes) == "1614.11"


def test_gst_rate_comes_from_settings_by_default(settings):
    settings.CARM = {**settings.CARM, "GST_RATE": Decimal("0.05")}
    assert line_amounts(value_foreign=Decimal("100"), exchange_rate=Decimal("1"),
                        duty_rate=Decimal("0")).gst == Decimal("5.00")


def test_gst_base_includes_sima_and_excise():
    amounts = line_amounts(value_foreign=Decimal("1000"), exchange_rate=Decimal("1"), duty_rate=Decimal("0.10"),
                           sima=Decimal("50"), excise_duty=Decimal("20"), excise_tax=Decimal("30"),
                           gst_rate=Decimal("0.05"))
    # 5 % of (1000 + 100 + 50 + 20 + 30)
    assert amounts.gst == Decimal("60.00")
    assert amounts.duties_and_taxes == Decimal("260.00")


def test_each_amount_is_rounded_half_up():
    # 0.125 → 0.13 (half up), never banker's 0.12
    amounts = line_amounts(value_foreign=Decimal("0.25"), exchange_rate=Decimal("1"), duty_rate=Decimal("0.5"),
                           gst_rate=Decimal("0"))
    assert amounts.duty == Decimal("0.13")


def test_totals_are_sums_of_rounded_lines_not_rounded_sums():
    line = line_amounts(value_foreign=Decimal("0.25"), exchange_rate=Decimal("1"), duty_rate=Decimal("0.5"),
                        gst_rate=Decimal("0"))
    totals = cad_totals([line, line])
    assert totals.duty == Decimal("0.26")  # not round(0.125 + 0.125) = 0.25


def test_specific_amounts_and_totals_arithmetic():
    assert specific_amount(Decimal("750"), Decimal("0.7681")) == Decimal("576.08")
    assert specific_amount(Decimal("3"), None) == Decimal("0.00")
    a = Totals(duty=Decimal("10.00"), gst=Decimal("1.00"))
    b = Totals(duty=Decimal("4.00"), gst=Decimal("0.50"))
    assert (b - a).duties_and_taxes == Decimal("-6.50")
    assert (-a).duty == Decimal("-10.00")
    assert Totals().is_zero and not a.is_zero


def test_a_float_is_refused():
    with pytest.raises(TypeError):
        line_amounts(value_foreign=10000.0, exchange_rate=Decimal("1.365"), duty_rate=Decimal("0.065"))


money = st.decimals(min_value=Decimal("0"), max_value=Decimal("5000000"), places=2, allow_nan=False,
                    allow_infinity=False)
rate = st.decimals(min_value=Decimal("0.0001"), max_value=Decimal("250"), places=6, allow_nan=False,
                   allow_infinity=False)
duty_rate = st.sampled_from([Decimal(x) for x in ("0", "0.025", "0.06", "0.065", "0.095", "0.105", "0.18", "2.45")])
lines = st.lists(
    st.builds(
        lambda value, fx, duty, sima, excise: line_amounts(value_foreign=value, exchange_rate=fx, duty_rate=duty,
                                                           sima=sima, excise_duty=excise, gst_rate=Decimal("0.05")),
        money, rate, duty_rate, money, money,
    ),
    min_size=1, max_size=40,
)


@settings(max_examples=200, deadline=None)
@given(lines)
def test_totals_equal_the_sum_of_lines_with_exactly_two_decimals(lines):
    totals = cad_totals(lines)
    for kind in ("vfd", "duty", "sima", "excise_duty", "excise_tax", "gst"):
        assert getattr(totals, kind) == sum(getattr(line, kind) for line in lines)
        assert getattr(totals, kind).as_tuple().exponent == -2
        for line in lines:
            assert getattr(line, kind).as_tuple().exponent == -2
            assert getattr(line, kind) == getattr(line, kind).quantize(CENTS)
    assert totals.duties_and_taxes == sum(line.duties_and_taxes for line in lines)
    assert totals.duties_and_taxes.as_tuple().exponent == -2
