"""Business Number checks, with python-stdnum (Luhn over the BN9; format of the BN15)."""

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from stdnum.ca import bn as stdnum_bn
from stdnum.exceptions import InvalidChecksum
from stdnum.exceptions import ValidationError as StdnumError

from carm_portal.conf import carm


def _enforce_check_digit() -> bool:
    return carm("ENFORCE_BN_CHECK_DIGIT")


def normalize_bn(value: str) -> str:
    return stdnum_bn.compact(value or "").upper()


def validate_bn9(value: str) -> None:
    compact = normalize_bn(value)
    if len(compact) != 9 or not compact.isdigit():
        raise ValidationError(_("A Business Number has exactly 9 digits."), code="bn_format")
    try:
        stdnum_bn.validate(compact)
    except InvalidChecksum as exc:
        if _enforce_check_digit():
            raise ValidationError(
                _("%(bn)s is not a valid Business Number: the check digit does not match."),
                params={"bn": compact},
                code="bn_checksum",
            ) from exc
    except StdnumError as exc:
        raise ValidationError(_("Not a valid Business Number."), code="bn_format") from exc


def validate_program_account_number(value: str) -> None:
    """A BN15: BN9 + 2-letter program identifier + 4-digit reference, e.g. 123456782RM0001."""
    compact = normalize_bn(value)
    if len(compact) != 15 or not (compact[:9].isdigit() and compact[9:11].isalpha() and compact[11:].isdigit()):
        raise ValidationError(
            _("A program account number looks like 123456782RM0001 (BN9, 2 letters, 4 digits)."),
            code="bn15_format",
        )
    validate_bn9(compact[:9])
    if compact[9:11] != "RM":
        raise ValidationError(
            _("Only RM (import/export) program accounts can be used with CBSA."), code="bn15_program"
        )
