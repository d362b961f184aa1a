"""CAD transaction numbers: 14 digits, the first 5 the account-security number.

Memo D17-1-10 has a check-digit appendix we could not retrieve, so the check is pluggable:
``CARM["TRANSACTION_NUMBER_VALIDATOR"]`` names a callable that raises
``django.core.exceptions.ValidationError``. The default, ``luhn_validator``, runs Luhn over
all 14 digits (the 14th is the check digit). UNVERIFIED: an ASSUMPTION, not CBSA's rule.

Numbers for CADs created in the portal come from ``reserve``: a 5-digit prefix derived from the
filer's business (see ``account_security_prefix``), an 8-digit counter per prefix, and the check
digit. The counter is, on PostgreSQL, a sequence per prefix (``nextval`` never waits: a broker's
filings would otherwise queue on one locked row until each one commits, which halved filing
throughput under 8 concurrent clients); a filing that rolls back leaves a gap, which transaction
numbers allow. A sequence is made on the prefix's first use, starting after the prefix's counter
row if one exists (numbers handed out before sequences). On SQLite, which lets one writer at a
time anyway, the counter row itself (``TransactionNumberCounter``), bumped in one statement.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _
from stdnum import luhn

from carm_portal.conf import carm

LENGTH = 14
PREFIX_LENGTH = 5
COUNTER_DIGITS = LENGTH - PREFIX_LENGTH - 1  # 8 digits: 100 million numbers per prefix
DEFAULT_VALIDATOR = "declarations.transaction_numbers.luhn_validator"


def normalize(value: str) -> str:
    return "".join(ch for ch in str(value or "") if ch not in " -")


def luhn_validator(number: str) -> None:
    """14 digits with a Luhn check digit last. UNVERIFIED against CBSA's (unpublished) rule."""
    if len(number) != LENGTH or not number.isdigit():
        raise ValidationError(_("A transaction number has exactly 14 digits."), code="format")
    if not luhn.is_valid(number):
        raise ValidationError(_("The transaction number's check digit does not match."), code="checksum")


def format_only_validator(number: str) -> None:
    """14 digits, no check digit (for a deployment that turns the unverified rule off)."""
    if len(number) != LENGTH or not number.isdigit():
        raise ValidationError(_("A transaction number has exactly 14 digits."), code="format")


def get_validator() -> Callable[[str], None]:
    return import_string(carm("TRANSACTION_NUMBER_VALIDATOR"))


def validate(number: str) -> None:
    get_validator()(normalize(number))


def with_check_digit(body: str) -> str:
    """Append the check digit. The generator always uses Luhn, which the format-only check accepts."""
    return body + luhn.calc_check_digit(body)


def account_security_prefix(bn9: str) -> str:
    """A deterministic 5-digit prefix for a business.

    ASSUMPTION: CBSA assigns account-security numbers, and Business has no field for one yet, so
    we derive a stable number from the BN9. Two businesses may share a prefix; numbers stay unique
    because the counter is per prefix.
    """
    digest = hashlib.sha256(bn9.encode()).hexdigest()
    return f"{int(digest, 16) % 90000 + 10000:05d}"


def reserve(prefix: str, count: int = 1) -> list[str]:
    """``count`` fresh numbers under ``prefix``. Must run inside the caller's transaction."""
    if len(prefix) != PREFIX_LENGTH or not prefix.isdigit():
        raise ValueError("The prefix is 5 digits.")
    if count < 1:
        return []
    if connection.vendor == "postgresql":
        values = _from_sequence(prefix, count)
    else:
        values = _from_counter(prefix, count)
    if values is None or max(values) >= 10**COUNTER_DIGITS:
        raise ValueError(f"Transaction numbers under prefix {prefix} are exhausted.")
    return [with_check_digit(f"{prefix}{n:0{COUNTER_DIGITS}d}") for n in values]


def sequence_name(prefix: str) -> str:
    return f"declarations_txn_{prefix}"


# The prefix's sequence, if it exists, read through the catalogue so that a missing one gives no
# row rather than an error (which would abort the caller's transaction).
_NEXTVAL_SQL = """
    SELECT nextval(c.oid::regclass)
      FROM pg_class c CROSS JOIN generate_series(1, %s)
     WHERE c.relname = %s AND c.relkind = 'S' AND c.relnamespace = current_schema()::regnamespace
"""


def _from_sequence(prefix: str, count: int) -> list[int]:
    """``count`` values of the prefix's sequence (made on first use). Past the 8 digits the
    sequence just goes on; ``reserve`` refuses those values."""
    with connection.cursor() as cursor:
        cursor.execute(_NEXTVAL_SQL, [count, sequence_name(prefix)])
        values = [int(row[0]) for row in cursor.fetchall()]
        if values:
            return values
        _create_sequence(cursor, prefix)
        cursor.execute(_NEXTVAL_SQL, [count, sequence_name(prefix)])
        return [int(row[0]) for row in cursor.fetchall()]


def _create_sequence(cursor, prefix: str) -> None:
    from .models import TransactionNumberCounter

    last = TransactionNumberCounter.objects.filter(prefix=prefix).values_list("last_value", flat=True).first()
    try:
        with transaction.atomic():
            cursor.execute(
                f"CREATE SEQUENCE IF NOT EXISTS {connection.ops.quote_name(sequence_name(prefix))} "
                f"AS bigint START WITH {int(last or 0) + 1}"
            )
    except IntegrityError:
        pass  # made by a concurrent request meanwhile: use that one


def _from_counter(prefix: str, count: int) -> list[int] | None:
    from .models import TransactionNumberCounter

    end = _bump(prefix, count)
    if end is None:  # no counter yet, or no room left in it
        try:
            with transaction.atomic():
                TransactionNumberCounter.objects.create(prefix=prefix, last_value=0)
        except IntegrityError:
            pass  # it exists: made by a concurrent request meanwhile (bump that one), or full
        end = _bump(prefix, count)
        if end is None:
            return None
    return list(range(end - count + 1, end + 1))


def _bump(prefix: str, count: int) -> int | None:
    """Add ``count`` to the prefix's counter row and return its new value, in ONE statement that
    also locks the row until the caller's transaction ends; None when there is no counter or no room."""
    from .models import TransactionNumberCounter

    table = connection.ops.quote_name(TransactionNumberCounter._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET last_value = last_value + %s "  # noqa: S608 - the model's own table name
            "WHERE prefix = %s AND last_value + %s < %s RETURNING last_value",
            [count, prefix, count, 10**COUNTER_DIGITS],
        )
        row = cursor.fetchone()
    return None if row is None else int(row[0])
