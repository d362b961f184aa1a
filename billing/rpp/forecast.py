"""The security forecast: what the next annual review would set, with a what-if (read-only).

The binding requirement is never touched here (``services`` owns it). For one RM account:

- the **review window** is the 12 months the next annual review will read (``services.annual_review_window``:
  the periods to 19 October); a period already closed uses its **actual** duties and taxes (the same
  grouped sum the review uses, ``services.monthly_totals``); a period still to come is **projected**,
  either from the same period a year earlier (``last_year``) or from a monthly **run rate** the user
  chooses (default: the mean of the last three closed periods);
- the **what-if** replaces any period's amount and adds one-off shipments to periods;
- the review's rule then applies unchanged (``services.amounts_for``): the highest month is the base,
  the bond covers 50% and cash 100%, each within the minimum and maximum;
- the increase is due 15 January after the review (``services.increase_due_date``); a surety needs
  ``RPP_SURETY_LEAD_BUSINESS_DAYS`` (25, ASSUMPTION) business days to endorse a bigger bond, so the
  request must go to the surety by that many business days before;
- the chart shows 24 months: the 12 before the window and the window itself.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation

from django.utils.translation import gettext as _

from accounts.models import ProgramAccount
from carm_portal import calendar
from carm_portal.conf import carm
from carm_portal.exceptions import ApplicationError
from carm_portal.money import ZERO, quantize

from . import services
from .selectors import positions_for

LAST_YEAR = "last_year"
RUN_RATE = "run_rate"
METHODS = (LAST_YEAR, RUN_RATE)
RUN_RATE_MONTHS = 3


@dataclass(frozen=True)
class ForecastMonth:
    period: date
    amount: Decimal
    source: str          # "actual", "projected", "what-if"
    one_off: Decimal = ZERO


@dataclass
class ReviewForecast:
    program_account: ProgramAccount
    today: date
    review_date: date
    increase_due: date
    ask_surety_by: date
    method: str
    run_rate: Decimal
    months: list[ForecastMonth]          # the review window, oldest first
    history: list[ForecastMonth]         # the 12 periods before the window (actuals)
    base: Decimal
    highest_period: date | None
    bond_amount: Decimal
    cash_amount: Decimal
    bond_posted: Decimal
    cash_posted: Decimal
    current_bond_amount: Decimal | None
    rules: list[str] = field(default_factory=list)   # "minimum" / "maximum" when a bound applied

    @property
    def chart_months(self) -> list[ForecastMonth]:
        return self.history + self.months

    @property
    def bond_gap(self) -> Decimal:
        """The bond the forecast calls for beyond what is posted (cash counted as its bond equivalent)."""
        cash_as_bond = self.cash_posted * self.bond_amount / self.cash_amount if self.cash_amount else self.cash_posted
        missing = self.bond_amount - self.bond_posted - cash_as_bond
        return quantize(missing) if missing > 0 else ZERO

    @property
    def exceeds_posted(self) -> bool:
        return self.bond_gap > 0


def _check_amount(value, field_name: str) -> Decimal:
    try:
        amount = quantize(Decimal(str(value)))
    except (InvalidOperation, ValueError, TypeError):
        raise ApplicationError(_("Enter an amount."), field_errors={field_name: [_("Enter an amount.")]}) from None
    if amount < 0 or amount > services.maximum() * 100:
        raise ApplicationError(_("Enter an amount of 0 or more."),
                               field_errors={field_name: [_("Enter an amount of 0 or more.")]})
    return amount


@dataclass(frozen=True)
class _Calendar:
    review: date
    window: list[date]
    history: list[date]
    last_year: list[date]
    closed: date

    @property
    def all_periods(self) -> list[date]:
        return sorted({*self.history, *self.window, *self.last_year})


def _calendar(today: date) -> _Calendar:
    review = services.next_annual_review(today)
    window = services.annual_review_window(review.year)
    return _Calendar(review, window, calendar.periods_ending(calendar.previous_period(window[0]), len(window)),
                     [calendar.add_months(p, -12) for p in window], services.last_closed_period(today))


def review_forecast(
    program_account: ProgramAccount, *, today: date, method: str = LAST_YEAR, run_rate: Decimal | None = None,
    months: Mapping[date, Decimal] | None = None, one_offs: Sequence[tuple[date, Decimal]] = (),
) -> ReviewForecast:
    """The forecast of the next annual review for one RM account, with what-if inputs (writes nothing)."""
    if method not in METHODS:
        raise ApplicationError(_("Choose how to project the coming months."),
                               field_errors={"method": [_("Choose last year or a run rate.")]})
    cal = _calendar(today)
    overrides = {p: _check_amount(a, f"month_{p.isoformat()}") for p, a in (months or {}).items()}
    if set(overrides) - set(cal.window):
        raise ApplicationError(_("A what-if month is outside the review window."),
                               field_errors={"months": [_("Only the periods of the review window can change.")]})
    extra: dict[date, Decimal] = {}
    for period, amount in one_offs:
        if period not in cal.window:
            raise ApplicationError(_("A one-off shipment is outside the review window."),
                                   field_errors={"one_off_period": [_("Pick a period of the review window.")]})
        extra[period] = extra.get(period, ZERO) + _check_amount(amount, "one_off_amount")
    rate = _check_amount(run_rate, "run_rate") if run_rate is not None else None
    actual = services.monthly_totals([program_account.pk], cal.all_periods).get(program_account.pk, {})
    position = positions_for([program_account], today=today)[program_account.pk]
    return _build(program_account, today, cal, actual, position, method, rate, overrides, extra)


def review_forecasts(accounts: Sequence[ProgramAccount], *, today: date) -> dict[int, ReviewForecast]:
    """The plain forecast (last year's months, no what-if) of many accounts: a constant number of queries."""
    accounts = list(accounts)
    cal = _calendar(today)
    totals = services.monthly_totals([pa.pk for pa in accounts], cal.all_periods)
    positions = positions_for(accounts, today=today)
    return {pa.pk: _build(pa, today, cal, totals.get(pa.pk, {}), positions[pa.pk], LAST_YEAR, None, {}, {})
            for pa in accounts}


def _build(program_account, today, cal: _Calendar, actual: Mapping[date, Decimal], position, method: str,
           run_rate: Decimal | None, overrides: Mapping[date, Decimal], extra: Mapping[date, Decimal]) -> ReviewForecast:
    recent = [actual.get(p, ZERO) for p in calendar.periods_ending(cal.closed, RUN_RATE_MONTHS)]
    rate = run_rate if run_rate is not None else quantize(sum(recent, ZERO) / len(recent))
    forecast_months = []
    for period, a_year_before in zip(cal.window, cal.last_year, strict=True):
        if period in overrides:
            amount, source = overrides[period], "what-if"
        elif period <= cal.closed:
            amount, source = actual.get(period, ZERO), "actual"
        else:
            amount, source = (actual.get(a_year_before, ZERO) if method == LAST_YEAR else rate), "projected"
        forecast_months.append(ForecastMonth(period, quantize(amount + extra.get(period, ZERO)), source,
                                             extra.get(period, ZERO)))
    highest = max(forecast_months, key=lambda m: (m.amount, m.period))
    base = max(highest.amount, ZERO)
    bond, cash = services.amounts_for(base)
    rules = []
    if quantize(base * services.bond_share()) < services.minimum():
        rules.append("minimum")
    if base > services.maximum() or quantize(base * services.bond_share()) > services.maximum():
        rules.append("maximum")
    due = services.increase_due_date(cal.review)
    return ReviewForecast(
        program_account=program_account, today=today, review_date=cal.review, increase_due=due,
        ask_surety_by=calendar.business_days_before(due, int(carm("RPP_SURETY_LEAD_BUSINESS_DAYS"))),
        method=method, run_rate=rate, months=forecast_months,
        history=[ForecastMonth(p, actual.get(p, ZERO), "actual") for p in cal.history],
        base=base, highest_period=highest.period if base > 0 else None, bond_amount=bond, cash_amount=cash,
        bond_posted=position.bond_posted, cash_posted=position.cash_posted,
        current_bond_amount=position.requirement.bond_amount if position.requirement else None, rules=rules,
    )


def forecast_gap_notices(accounts: Sequence[ProgramAccount], *, today: date) -> list:
    """Tell the importer (in-portal notice and email, once per review, account and amount) when the
    forecast of the next review calls for more than the security posted, and by when to ask the surety."""
    from .models import Notice

    sent = []
    forecasts = review_forecasts(accounts, today=today)
    for pa in accounts:
        f = forecasts[pa.pk]
        if not f.exceeds_posted:
            continue
        notice = services._notify(
            business=pa.business, program_account=pa, kind=Notice.Kind.FORECAST_GAP,
            key=f"forecast-gap:{pa.pk}:{f.review_date}:{f.bond_amount}",
            params={"rm": pa.number, "review": f.review_date.isoformat(), "bond": str(f.bond_amount),
                    "gap": str(f.bond_gap), "ask": f.ask_surety_by.isoformat(), "due": f.increase_due.isoformat()},
        )
        if notice is not None:
            sent.append(notice)
    return sent
