"""The business-rule settings (``settings.CARM``): every key declared once, read through ``carm()``.

``DECLARED`` below is the one list of keys that exist, with their type, default and why. The
settings module builds ``settings.CARM`` from ``DEFAULTS`` plus the environment overrides it
chooses to offer; code never reads ``settings.CARM`` itself but calls ``carm("KEY")``:

- the value is read from ``settings.CARM`` at call time (so ``settings`` fixture overrides in
  tests are seen), else the declared default (so a test that replaces the whole dict still works);
- it is coerced to the declared type (``Decimal`` from a string, a ``date`` from an ISO string,
  ``bool`` from "true"/"false", ...), and a value that does not fit raises ``ImproperlyConfigured``;
- reading a key that is not declared raises ``ImproperlyConfigured`` naming it.

The system check ``check_carm_settings`` (registered in ``apps.py``) reports keys in
``settings.CARM`` that are not declared, and values of the wrong type.

No Django models here: ``settings.py`` imports this module.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


@dataclass(frozen=True)
class Setting:
    type: type
    default: Any
    doc: str


DECLARED: dict[str, Setting] = {
    # --- Accounts and CADs -----------------------------------------------------------------
    "ENFORCE_BN_CHECK_DIGIT": Setting(
        bool, True, "BN9 check digit (Luhn) is third-party knowledge; enforce it unless told otherwise."
    ),
    "TRANSACTION_NUMBER_VALIDATOR": Setting(
        str, "declarations.transaction_numbers.luhn_validator",
        "Dotted path of the transaction-number validator: Luhn on the 14th digit, marked unverified.",
    ),
    "CAD_DUE_BUSINESS_DAYS": Setting(int, 5, "A (non-LVS) CAD is due this many business days after release."),
    "CAD_AUTO_ACCEPT": Setting(
        bool, True, "CARM assesses a valid CAD on submission; staff can still reject. Off: CADs wait."
    ),
    "CAD_UPLOAD_ASYNC_LINES": Setting(
        int, 500, "Uploads with more lines than this are imported by a worker, with a progress page."
    ),
    "EXCHANGE_RATE_MAX_AGE_DAYS": Setting(int, 7, "A line's exchange rate may be at most this many days older than its date."),
    "S32_2_DAYS": Setting(int, 90, "s.32.2 correction: days from reason to believe (no business-day roll)."),
    "S74_YEARS": Setting(int, 4, "s.74 refund claims: years from release."),
    "GST_RATE": Setting(Decimal, Decimal("0.05"), "GST on value for duty plus duty."),
    "UPLOAD_MAX_BYTES": Setting(int, 10 * 1024 * 1024, "Largest accepted upload (CAD files, appeal documents)."),
    # --- Input limits (carm_portal.validators, declarations.csv_import) ------------------------
    "CSV_MAX_COLUMNS": Setting(int, 200, "A CAD CSV header with more columns is refused before any row is read."),
    "CSV_MAX_CELL_CHARS": Setting(int, 1000, "A CAD CSV cell longer than this is refused (row and column named)."),
    "CSV_MAX_ROWS": Setting(int, 50000, "A CAD CSV with more rows (header excluded) is refused."),
    "INPUT_DATE_MIN": Setting(
        datetime.date, datetime.date(2000, 1, 1), "Earliest date any form, API field or CSV cell accepts."
    ),
    "INPUT_DATE_MAX_FUTURE_DAYS": Setting(
        int, 3660, "Where a rule allows a future date, the latest accepted is today plus this many days."
    ),
    # --- Billing -----------------------------------------------------------------------------
    "PAYMENT_DUE_WEEKDAYS": Setting(int, 10, "Payment is due this many weekdays after the period end."),
    "DUE_DATE_ROLLS_OVER_SATURDAY": Setting(
        bool, True,
        "ASSUMPTION (carm-rules §4): a due date on a Saturday, Sunday or holiday moves to the next "
        "business day; Saturday is a setting.",
    ),
    "LVS_CALENDAR_MONTH_CYCLE": Setting(
        bool, True,
        "Courier LVS and continuous-transmission CADs are billed on calendar months (carm-rules §4).",
    ),
    "PERIOD_END_DAY": Setting(int, 17, "Day of the month a billing period ends."),
    "STATEMENT_DAY": Setting(int, 25, "Day of the month the statement is issued."),
    # WeasyPrint lays a table row out in ~5.5 ms: 1,000 lines is ~6 s; ~21k would pass the pdf task's limit.
    "STATEMENT_PDF_MAX_LINES": Setting(
        int, 1000, "A statement with more lines gets a summary PDF (totals by kind, by tax kind and per CAD); "
        "its lines are in the statement's CSV (page and API).",
    ),
    "LATE_PAYMENT_PENALTY": Setting(Decimal, Decimal("200.00"), "ASSUMPTION (carm-rules §4, AMPS C336): flat late-payment penalty, once per statement not paid by its due date."),
    "CREDIT_CARD_CYCLE_CAP": Setting(
        Decimal, Decimal("4999.99"), "Most a cycle's credit-card payments may total."
    ),
    "PAYMENT_LEAD_BUSINESS_DAYS": Setting(
        int, 3, "ASSUMPTION: business days a bank payment (PAD, online banking, wire) may take to reach CBSA; "
        "'How to pay' suggests paying that many business days before the due date.",
    ),
    "PAYEE_NAME": Setting(str, "Receiver General for Canada", "The payee of every payment to CBSA."),
    # One chunk is ~0.1–0.2 s of SQL at 2,500 accounts, well inside the task time limits, and few
    # enough tasks that Celery's per-task overhead stays small next to the SQL.
    "BILLING_CHUNK_SIZE": Setting(int, 2500, "Accounts closed per billing-run chunk task."),
    "REFERENCE_TABLE_RECHECK_SECONDS": Setting(
        float, 2.0, "How often a process re-checks the cache version of admin-edited tables."
    ),
    "BILLING_CHUNK_STALE_SECONDS": Setting(
        int, 300, "A running billing run with no chunk finished for this long has its pending chunks that no "
        "worker holds (row lock) re-enqueued by the beat sweeper (a killed worker's messages are unacked or lost).",
    ),
    # --- Work after a commit (carm_portal.outbox) and health --------------------------------
    "OUTBOX_RESEND_AFTER_SECONDS": Setting(
        int, 600, "An outbox item sent to the broker but not done after this long is sent again (a lost message)."
    ),
    "OUTBOX_MAX_ATTEMPTS": Setting(int, 50, "After this many failed sends or runs an outbox item is marked failed."),
    "WORKER_HEARTBEAT_MAX_AGE_SECONDS": Setting(
        int, 180, "/readyz fails when no Celery worker has written its heartbeat for this long."
    ),
    "IDEMPOTENCY_RETENTION_DAYS": Setting(
        int, 30,
        "An Idempotency-Key (carm_portal.idempotency) is remembered this many days, then deleted by the daily beat "
        "task: a retry after that runs afresh. Keep it longer than any client's retry window.",
    ),
    # --- RPP (release prior to payment security) ---------------------------------------------
    "RPP_BOND_SHARE": Setting(Decimal, Decimal("0.50"), "A bond / eWSA covers this share of the requirement."),
    "RPP_MINIMUM": Setting(Decimal, Decimal("5000.00"), "Each security amount is raised to at least this."),
    "RPP_MAXIMUM": Setting(Decimal, Decimal("10000000.00"), "Each security amount is capped at this."),
    "RPP_SHORTFALL_GRACE_DAYS": Setting(
        int, 30,
        "ASSUMPTION (carm-rules §3): days to cover a shortfall outside the annual review "
        "(increases then: 15 January).",
    ),
    # The review year (carm-rules §3, universallogistics.ca "CBSA annual review of financial security",
    # October 2025): CBSA reviews every RM once a year on 20 October over the 12 months to 19 October;
    # an increase must be posted by 15 January, or RPP is suspended. The binding requirement changes
    # only then, at enrolment, on a reduction decision and on re-enrolment.
    "RPP_REVIEW_MONTH": Setting(int, 10, "carm-rules §3: the month of the annual review (October)."),
    "RPP_REVIEW_DAY": Setting(int, 20, "carm-rules §3: the day of the annual review (20 October)."),
    "RPP_REVIEW_WINDOW_MONTHS": Setting(
        int, 12, "carm-rules §3: the review looks at this many closed billing periods up to the day before it."
    ),
    "RPP_INCREASE_DUE_MONTH": Setting(
        int, 1, "carm-rules §3: an increase set by the annual review is due in this month (January) after it."
    ),
    "RPP_INCREASE_DUE_DAY": Setting(
        int, 15, "carm-rules §3: ... on this day (15 January); RPP is suspended only after it (ASSUMPTION)."
    ),
    "RPP_SURETY_LEAD_BUSINESS_DAYS": Setting(
        int, 25, "ASSUMPTION (issue #14: a surety's paper endorsement takes about 25 business days): the security "
        "forecast asks for a bigger bond this many business days before the increase is due (15 January).",
    ),
    "RPP_UTILIZATION_WARNING": Setting(
        Decimal, Decimal("0.80"), "Warn when the requirement reaches this share of the posted security (80%: \"warning\")."
    ),
    # --- Offsetting and refunds --------------------------------------------------------------
    "REFUND_THRESHOLD": Setting(
        Decimal, Decimal("1000.00"), "A credit of at least this is refunded once no debt remains."
    ),
    "REFUND_SMALL_CREDIT_CYCLES": Setting(
        int, 2,
        "ASSUMPTION (carm-rules §5): a smaller credit is refunded once it has stood on this many "
        "issued statements.",
    ),
    "OFFSET_AFTER_NEW_CREDIT": Setting(bool, True, "Queue offsetting for an account as soon as a new credit is posted (else the daily sweep)."),
    # --- Appeals -----------------------------------------------------------------------------
    "APPEAL_DEADLINE_ROLLS_TO_BUSINESS_DAY": Setting(
        bool, True, "ASSUMPTION: an appeal deadline on a weekend or holiday moves to the next business day."
    ),
    "APPEAL_RPP_SECURITY_COVERS": Setting(
        bool, True,
        "ASSUMPTION (carm-rules §3, §6): s.60 filing counts the RM's posted RPP security as security for the "
        "duties and interest under appeal that are not yet due (amounts past due must be paid).",
    ),
    "APPEAL_CREDIT_EARNS_INTEREST": Setting(
        bool, False,
        "ASSUMPTION: off. CBSA pays interest on refunds at the *prescribed* rate, not the specified "
        "rate the InterestRate table holds; switched on, the credit earns the table's rate.",
    ),
}

# The declared defaults, for settings.py to build ``CARM`` from.
DEFAULTS: dict[str, Any] = {name: s.default for name, s in DECLARED.items()}

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _convert(kind: type, value: Any) -> Any:
    """``value`` as ``kind``; raises ValueError / TypeError when it does not fit."""
    if kind is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
    elif kind is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str):
            return int(value.strip())
    elif kind is float:
        if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            return float(value.strip())
    elif kind is Decimal:
        # No float: binary floats are not exact money (Decimal(0.1) != Decimal("0.1")).
        if isinstance(value, Decimal | int | str) and not isinstance(value, bool):
            try:
                result = Decimal(value.strip() if isinstance(value, str) else value)
            except InvalidOperation:
                raise ValueError(value) from None
            if result.is_finite():
                return result
    elif kind is datetime.date:
        if isinstance(value, datetime.date) and not isinstance(value, datetime.datetime):
            return value
        if isinstance(value, str):
            return datetime.date.fromisoformat(value.strip())
    elif isinstance(value, kind):
        return value
    raise TypeError(value)


def coerce(key: str, value: Any) -> Any:
    """``value`` as the declared type of ``key``; ImproperlyConfigured if undeclared or wrong type."""
    setting = _declared(key)
    try:
        return _convert(setting.type, value)
    except (TypeError, ValueError):
        raise ImproperlyConfigured(
            f"settings.CARM[{key!r}] = {value!r} is not a valid {setting.type.__name__}"
        ) from None


def _declared(key: str) -> Setting:
    try:
        return DECLARED[key]
    except KeyError:
        raise ImproperlyConfigured(
            f"CARM setting {key!r} is not declared (declare it in carm_portal/conf.py)"
        ) from None


def carm(key: str) -> Any:
    """The business-rule setting ``key``: ``settings.CARM[key]`` if set, else its declared default."""
    setting = _declared(key)
    values = getattr(settings, "CARM", None) or {}
    if key not in values:
        return setting.default
    return coerce(key, values[key])


def check_carm_settings(app_configs=None, **kwargs) -> list:
    """System check: every key in ``settings.CARM`` is declared and holds a value of its type."""
    from django.core.checks import Error

    values = getattr(settings, "CARM", None)
    if values is None:
        return []
    if not isinstance(values, dict):
        return [Error("settings.CARM must be a dict.", id="carm.E001")]
    errors = []
    for key, value in values.items():
        if key not in DECLARED:
            errors.append(Error(
                f"settings.CARM holds {key!r}, which is not declared.",
                hint="Declare it in carm_portal/conf.py, or remove it from settings.CARM.",
                id="carm.E002",
            ))
            continue
        try:
            coerce(key, value)
        except ImproperlyConfigured as exc:
            errors.append(Error(str(exc), id="carm.E003"))
    return errors
