"""Realistic CAD history, generated fast: for load tests (``generate_load``) and the demo.

Rows are built in memory and written in batches with ids allocated up front (``declarations.bulk``:
COPY on PostgreSQL), never one ``save()`` per row. Amounts come from the same
``declarations.calculation`` functions the portal uses, and every accepted CAD gets its version 1
and its ledger charge, so balances, statements and the RPP requirement built on top add up. A few
CADs get a correction (a ledger difference) or are withdrawn; recent ones are still drafts or
submitted; a few old drafts are late.

Shape (carm-rules §7): lines per CAD log-normal with median 3 and mean about 6 (max 999); CADs
per importer per month heavy-tailed around a median.

    generator = CadHistoryGenerator(seed=7, filed_by=user, broker=broker_firm)
    generator.generate([program_account], months=12, cads_per_month=15)
"""

from __future__ import annotations

import math
import random
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from datetime import time as clock
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone
from stdnum import luhn

from accounts.models import Business, ProgramAccount, User
from billing.ledger import services as ledger
from billing.ledger.models import LedgerEntry
from billing.ledger.texts import Text
from carm_portal import calendar

from . import bulk, deadlines, transaction_numbers
from .calculation import Totals, cad_totals, line_amounts, specific_amount
from .models import CAD, CADLine, CADVersion, ExchangeRate, GstStatus, TariffItem, TariffRate
from .services import line_snapshot

LOAD_USER_EMAIL = "load-generator@carm-portal.local"

# (currency, weight, origin country, preferred treatment)
SOURCES = [
    ("USD", 55, "US", "UST"),
    ("USD", 8, "CN", "MFN"),
    ("CNY", 12, "CN", "MFN"),
    ("CAD", 6, "US", "UST"),
    ("EUR", 9, "DE", "CEUT"),
    ("GBP", 3, "GB", "UKT"),
    ("MXN", 4, "MX", "MXT"),
    ("JPY", 3, "JP", "CPTPT"),
]
OFFICES = ["0497", "0453", "0440", "0809", "0395", "0427", "0821", "0701", "0452", "0328"]
MODES = [("highway", 60), ("marine", 15), ("air", 12), ("rail", 10), ("courier", 3)]
VENDORS = ["Acme Corp", "Pacific Trading Co.", "Great Lakes Supply", "Rhine Industrie GmbH", "Shenzhen Bright Ltd",
           "Monterrey Manufacturas", "Osaka Seiki KK", "Thames Goods Ltd", "Midwest Distribution LLC"]
LINES_MU = math.log(3)          # median 3
LINES_SIGMA = math.sqrt(2 * math.log(2))  # mean = 3·e^(σ²/2) = 6


@dataclass
class Stats:
    cads: int = 0
    lines: int = 0
    entries: int = 0


Progress = Callable[[int, int], None]


class CadHistoryGenerator:
    def __init__(self, *, seed: int = 1, today: date | None = None, filed_by: User | None = None,
                 broker: Business | None = None, stdout=None):
        self.rng = random.Random(seed)
        self.today = today or timezone.localdate()
        self.filed_by = filed_by
        self.broker = broker
        self.stdout = stdout

    # --- Public -----------------------------------------------------------------------------------

    def create_importers(self, count: int) -> list[ProgramAccount]:
        """``count`` new importers with valid (Luhn) BN9s, each with one RM account enrolled in RPP."""
        bn9s: list[str] = []
        seen: set[str] = set()
        while len(bn9s) < count:
            candidates = set()
            for _ in range((count - len(bn9s)) * 2):
                base = f"{self.rng.randrange(10_000_000, 99_999_999):08d}"
                candidates.add(base + luhn.calc_check_digit(base))
            candidates -= seen
            taken = set(Business.objects.filter(bn9__in=candidates).values_list("bn9", flat=True))
            for bn in sorted(candidates - taken):
                if len(bn9s) < count:
                    bn9s.append(bn)
                seen.add(bn)
        now = timezone.now()
        businesses = Business.objects.bulk_create([
            Business(kind=Business.Kind.IMPORTER, legal_name=f"Load Importer {bn} Inc.", bn9=bn, city="Toronto",
                     province="ON", created_at=now)
            for bn in bn9s
        ], batch_size=1000)
        return ProgramAccount.objects.bulk_create([
            ProgramAccount(business=b, number=f"{b.bn9}RM0001", name="Imports",
                           rpp_status=ProgramAccount.RppStatus.ENROLLED, created_at=now)
            for b in businesses
        ], batch_size=1000)

    def plan(self, accounts: Sequence[ProgramAccount], *, months: int,
             cads_per_month: float) -> list[tuple[ProgramAccount, date, int]]:
        """(account, month, number of CADs): each importer's size drawn once, months vary around it."""
        plan = []
        for pa in accounts:
            size = min(self.rng.lognormvariate(math.log(cads_per_month), 1.0), 3000) if len(accounts) > 1 \
                else cads_per_month
            for back in range(months - 1, -1, -1):
                month = _month_start(self.today, back)
                n = max(0, round(self.rng.gauss(size, math.sqrt(size))))
                if back == 0:  # the current month is not over yet
                    n = round(n * min(1, self.today.day / 30))
                plan.append((pa, month, n))
        return plan

    def generate(self, accounts: Sequence[ProgramAccount], *, months: int = 12, cads_per_month: float = 20.0,
                 batch: int = 2000, progress: Progress | None = None) -> Stats:
        """CADs for ``accounts`` over the last ``months`` months (this month so far included)."""
        self.start = _month_start(self.today, months - 1)
        self._load_reference_data()
        if self.filed_by is None:
            self.filed_by = load_user()
        plan = self.plan(accounts, months=months, cads_per_month=cads_per_month)
        total = sum(n for _pa, _month, n in plan)
        stats = Stats()
        pending: list[tuple[ProgramAccount, date]] = []
        for pa, month, n in plan:
            for _ in range(n):
                pending.append((pa, self._release_date(month)))
                if len(pending) >= batch:
                    self._write(pending, stats)
                    pending = []
                    if progress:
                        progress(stats.cads, total)
        if pending:
            self._write(pending, stats)
        if progress:
            progress(stats.cads, total)
        return stats

    # --- Reference data ---------------------------------------------------------------------------

    def _load_reference_data(self) -> None:
        days = (self.today - self.start).days + 40
        if not TariffItem.objects.exists() or not ExchangeRate.objects.filter(
            date__lte=self.start, date__gte=self.start - timedelta(days=10)
        ).exists():
            # Rates up to the generator's own day, which need not be the clock's (tests, backfills).
            call_command("seed_tariffs", days=max(days, 400), until=self.today,
                         **({"stdout": self.stdout} if self.stdout else {}))
        self.items = list(TariffItem.objects.filter(is_active=True))
        rates: dict[str, dict[str, Decimal]] = defaultdict(dict)
        for code, treatment, rate in TariffRate.objects.values_list("tariff_item__classification", "treatment_id",
                                                                     "rate"):
            rates[code][treatment] = rate
        self.rates = rates
        self.items = [i for i in self.items if "MFN" in rates[i.classification]]
        self.gst_taxable = dict(GstStatus.objects.values_list("code", "taxable"))
        fx: dict[str, tuple[list[date], list[Decimal]]] = defaultdict(lambda: ([], []))
        for currency, day, rate in ExchangeRate.objects.filter(date__gte=self.start - timedelta(days=40)).order_by(
            "currency", "date"
        ).values_list("currency", "date", "rate"):
            fx[currency][0].append(day)
            fx[currency][1].append(rate)
        self.fx = fx

    def _fx(self, currency: str, day: date) -> Decimal:
        if currency == "CAD":
            return Decimal("1")
        days, rates = self.fx[currency]
        i = bisect_right(days, day) - 1
        if i < 0:
            raise ValueError(f"No {currency} exchange rate on or before {day}; run seed_tariffs --days.")
        return rates[i]

    def _release_date(self, month: date) -> date:
        last = min(_month_start(month, -1) - timedelta(days=1), self.today)
        return month + timedelta(days=self.rng.randrange((last - month).days + 1))

    # --- Building rows ------------------------------------------------------------------------------

    def _lines_count(self) -> int:
        return max(1, min(999, round(self.rng.lognormvariate(LINES_MU, LINES_SIGMA))))

    def _build_lines(self, currency: str, origin: str, treatment: str, shipped: date) -> list[CADLine]:
        rate = self._fx(currency, shipped)
        lines = []
        for no in range(1, self._lines_count() + 1):
            item = self.rng.choice(self.items)
            item_rates = self.rates[item.classification]
            use = treatment if treatment in item_rates else "MFN"
            quantity = Decimal(self.rng.randint(1, 500))
            value = Decimal(str(round(self.rng.lognormvariate(math.log(1500), 1.2), 2)))
            if currency == "JPY":
                value = (value * 100).quantize(Decimal("1"))
            amounts = line_amounts(
                value_foreign=value, exchange_rate=rate, duty_rate=item_rates[use],
                excise_duty=specific_amount(quantity, item.excise_duty_per_unit),
                excise_tax=specific_amount(quantity, item.excise_tax_per_unit),
                # The item's GST status (none: taxable), as validation.check_line applies it.
                gst_rate=None if self.gst_taxable.get(item.gst_status_id, True) else Decimal("0"),
            )
            lines.append(CADLine(
                line_no=no, description=item.description_en[:300], classification_id=item.classification,
                treatment_id=use, origin_country=origin, proof_of_origin=use != "MFN", quantity=quantity,
                unit=item.unit_of_measure, value_foreign=value, currency=currency, exchange_rate=rate,
                duty_rate=item_rates[use], gst_status_id=item.gst_status_id, **amounts.as_dict(),
            ))
        return lines

    def _write(self, pending: list[tuple[ProgramAccount, date]], stats: Stats) -> None:
        """Build one batch of CADs with their whole history in memory, then insert it."""
        now = timezone.now()
        with transaction.atomic():
            by_prefix: dict[str, int] = defaultdict(int)
            for pa, _release in pending:
                by_prefix[self._prefix(pa)] += 1
            numbers = {p: iter(transaction_numbers.reserve(p, n)) for p, n in by_prefix.items()}
            cad_ids = iter(bulk.allocate_ids(CAD, len(pending)))
            cads, line_rows, entries, versions = [], [], [], []
            for pa, release in pending:
                currency, origin, treatment = self._source()
                shipped = release - timedelta(days=self.rng.randint(0, 12))
                lines = self._build_lines(currency, origin, treatment, shipped)
                cad_type = self.rng.choices(
                    [CAD.Type.REGULAR, CAD.Type.COURIER_LVS, CAD.Type.CONTINUOUS], weights=[90, 8, 2])[0]
                cad = CAD(
                    id=next(cad_ids),
                    transaction_number=next(numbers[self._prefix(pa)]), program_account=pa,
                    filed_by=self.filed_by, broker=self.broker, cad_type=cad_type, release_date=release,
                    direct_shipment_date=shipped, office_code=self.rng.choice(OFFICES),
                    transport_mode=self.rng.choices([m for m, _w in MODES], weights=[w for _m, w in MODES])[0],
                    vendor_name=self.rng.choice(VENDORS), vendor_country=origin,
                    invoice_number=f"INV-{self.rng.randrange(10**7):07d}", invoice_currency=currency,
                    created_at=now, updated_at=now,
                )
                cad.due_date = deadlines.cad_due_date(release, cad_type)
                cad.set_totals(cad_totals(lines))
                fate = self._fate(cad)
                if cad.status != CAD.Status.DRAFT:
                    cad.payment_timing = CAD.PaymentTiming.DEFERRED  # the loaded accounts are RPP-enrolled
                for line in lines:
                    line.cad = cad
                if cad.status in (CAD.Status.ACCEPTED, CAD.Status.WITHDRAWN):
                    e, v, lines = self._history(cad, lines, fate, now)
                    entries.extend(e)
                    versions.extend(v)
                cads.append(cad)
                line_rows.extend(lines)
            for model, objects in ((CADLine, line_rows), (LedgerEntry, entries), (CADVersion, versions)):
                for obj, pk in zip(objects, bulk.allocate_ids(model, len(objects)), strict=True):
                    obj.pk = pk
            for version in versions:
                version.ledger_entry_id = version.ledger_entry.pk if version.ledger_entry else None
            # Parents first: the foreign keys are checked on insert (PostgreSQL) or at commit.
            bulk.insert(CAD, cads)
            bulk.insert(CADLine, line_rows)
            bulk.insert(LedgerEntry, entries)
            bulk.insert(CADVersion, versions)
        stats.cads += len(cads)
        stats.lines += len(line_rows)
        stats.entries += len(entries)

    def _prefix(self, pa: ProgramAccount) -> str:
        return transaction_numbers.account_security_prefix(self.broker.bn9 if self.broker else pa.number[:9])

    def _source(self) -> tuple[str, str, str]:
        currency, _w, origin, treatment = self.rng.choices(SOURCES, weights=[s[1] for s in SOURCES])[0]
        return currency, origin, treatment

    def _fate(self, cad: CAD) -> str:
        """Set the status the CAD is in today; return what happens to it after acceptance."""
        age = (self.today - cad.release_date).days
        if age <= 6:
            status = self.rng.choices(["draft", "submitted", "accepted"], weights=[25, 15, 60])[0]
        else:
            status = self.rng.choices(["accepted", "late_draft"], weights=[995, 5])[0]
        if status in ("draft", "late_draft"):
            cad.status = CAD.Status.DRAFT
            return "none"
        submitted_on = min(self.today, cad.release_date + timedelta(days=self.rng.randint(0, 4)))
        cad.submitted_at = _at(submitted_on)
        cad.submitted_late = cad.due_date is not None and submitted_on > cad.due_date
        if status == "submitted":
            cad.status = CAD.Status.SUBMITTED
            return "none"
        cad.status = CAD.Status.ACCEPTED
        cad.accepted_at = cad.submitted_at
        cad.current_version = 1
        cad.billing_period = deadlines.billing_period(cad, posted_on=submitted_on)
        roll = self.rng.random()
        if roll < 0.005:
            cad.status = CAD.Status.WITHDRAWN  # withdrawn later; history written in _history
            return "withdrawn"
        if roll < 0.03 and age > 3:
            return "corrected"
        return "accepted"

    def _history(self, cad: CAD, lines: list[CADLine], fate: str, now) -> tuple[list, list, list[CADLine]]:
        """Version 1 and its charge, plus a correction or a withdrawal for some CADs."""
        accepted_on = cad.submitted_at.date()
        original = cad_totals(lines)
        entries, versions = [], []
        v1 = CADVersion(cad=cad, number=1, kind=CADVersion.Kind.ORIGINAL, status=CADVersion.Status.APPROVED,
                        filed_by=self.filed_by, filed_at=cad.submitted_at, reviewed_at=cad.submitted_at,
                        lines=[line_snapshot(ln) for ln in lines])
        v1.set_totals(original)
        if not original.is_zero:
            v1.ledger_entry = self._entry(cad, LedgerEntry.Kind.CAD_CHARGE, original, 1, cad.release_date,
                                          cad.billing_period, now)
            entries.append(v1.ledger_entry)
        versions.append(v1)
        if fate == "accepted":
            return entries, versions, lines
        on = min(self.today, accepted_on + timedelta(days=self.rng.randint(1, 3)))
        period = deadlines.billing_period(cad, posted_on=on)
        if fate == "withdrawn":
            final_lines: list[CADLine] = []
            new_totals = Totals()
            kind, vkind, entry_kind = "withdrawal", CADVersion.Kind.WITHDRAWAL, LedgerEntry.Kind.CAD_WITHDRAWAL
            cad.withdrawn_at = _at(on)
        else:
            first = lines[0]
            value = (first.value_foreign * Decimal("0.9")).quantize(Decimal("0.01"))
            amounts = line_amounts(value_foreign=value, exchange_rate=first.exchange_rate, duty_rate=first.duty_rate,
                                   sima=first.sima, excise_duty=first.excise_duty, excise_tax=first.excise_tax)
            corrected = CADLine(**{f.attname: getattr(first, f.attname) for f in CADLine._meta.concrete_fields
                                   if f.attname != "id"})
            corrected.cad = cad
            corrected.value_foreign = value
            for key, amount in amounts.as_dict().items():
                setattr(corrected, key, amount)
            final_lines = [corrected, *lines[1:]]
            new_totals = cad_totals(final_lines)
            kind, vkind, entry_kind = "correction", CADVersion.Kind.CORRECTION, LedgerEntry.Kind.CAD_CORRECTION
        delta = new_totals - original
        v2 = CADVersion(cad=cad, number=2, base_number=1, kind=vkind, status=CADVersion.Status.AUTO_APPROVED,
                        reason_codes=["VC"] if kind == "correction" else [],
                        legal_basis=CADVersion.LegalBasis.S74 if kind == "correction" else "",
                        filed_by=self.filed_by, filed_at=_at(on), lines=[line_snapshot(ln) for ln in final_lines],
                        diff={"totals": {"duties_and_taxes": [str(original.duties_and_taxes),
                                                              str(new_totals.duties_and_taxes)]}})
        v2.set_totals(new_totals)
        if not delta.is_zero:
            v2.ledger_entry = self._entry(cad, entry_kind, delta, 2, on, period, now)
            entries.append(v2.ledger_entry)
        versions.append(v2)
        cad.set_totals(new_totals)
        cad.current_version = 2
        return entries, versions, final_lines

    def _entry(self, cad: CAD, kind: str, totals: Totals, version: int, effective: date, period: date, now):
        entry = ledger.build_entry(
            program_account=cad.program_account, kind=kind, effective_date=effective, billing_period=period,
            breakdown=totals.breakdown(), source=cad, idempotency_key=f"cad:{cad.pk}:v{version}",
            reference=cad.transaction_number, description=Text("cad_charge", number=cad.transaction_number),
        )
        entry.created_at = now
        return entry


def _month_start(day: date, back: int) -> date:
    return calendar.add_months(day.replace(day=1), -back)


def _at(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, clock(10, 0)))


def load_user() -> User:
    """The user generated CADs are filed by when no one is named."""
    user = get_user_model().objects.filter(email=LOAD_USER_EMAIL).first()
    if user is None:
        user = get_user_model().objects.create_user(email=LOAD_USER_EMAIL, password=None, first_name="Load",
                                                    last_name="Generator")
    return user
