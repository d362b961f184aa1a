"""Who may do what: the one table of role rights, and the access-gate scopes built on it.

Roles mirror the CARM Client Portal: BAM (whole business), PAM (one RM account), Editor,
Reader. A broker's employee acts for a client only where *both* hold: the client's delegation
grants the visibility flag, and the employee's role in the broker firm grants the right.
"""

from enum import Enum, StrEnum, unique

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    BAM = "bam", _("Business Account Manager")
    PAM = "pam", _("Program Account Manager")
    EDITOR = "editor", _("Editor")
    READER = "reader", _("Reader")


class Right(StrEnum):
    VIEW = "view"
    SUBMIT_CADS = "submit_cads"
    PAY = "pay"
    POST_SECURITY = "post_security"
    FILE_APPEALS = "file_appeals"
    MANAGE_USERS = "manage_users"
    GRANT_DELEGATIONS = "grant_delegations"


ROLE_RIGHTS: dict[str, frozenset[Right]] = {
    Role.BAM: frozenset(Right),
    Role.PAM: frozenset(Right),  # the same rights, but only on its own RM account
    Role.EDITOR: frozenset({Right.VIEW, Right.SUBMIT_CADS, Right.PAY, Right.FILE_APPEALS}),
    Role.READER: frozenset({Right.VIEW}),
}


def roles_with(right: Right) -> list[str]:
    return [role for role, rights in ROLE_RIGHTS.items() if right in rights]


# Delegation visibility flags (field names on Delegation, without the "scope_" prefix).
DELEGATION_FLAGS = ("financial", "cad_submit", "adjust", "appeals", "security")

# None: brokers never get this scope; (): any active delegation will do; else any of the flags.
_NEVER = None


@unique  # two scopes with the same value would silently become aliases
class Scope(Enum):
    """What a user wants to do on a program account: a right, and the delegation flags it needs."""

    ACCOUNT = (Right.VIEW, ())
    DECLARATIONS = (Right.VIEW, ("cad_submit", "adjust"))
    SUBMIT_CADS = (Right.SUBMIT_CADS, ("cad_submit",))
    ADJUST_CADS = (Right.SUBMIT_CADS, ("adjust",))
    BILLING = (Right.VIEW, ("financial",))
    PAYMENTS = (Right.PAY, ("financial",))
    SECURITY = (Right.VIEW, ("security",))
    MANAGE_SECURITY = (Right.POST_SECURITY, ("security",))
    APPEALS = (Right.VIEW, ("appeals",))
    FILE_APPEALS = (Right.FILE_APPEALS, ("appeals",))
    MANAGE_USERS = (Right.MANAGE_USERS, _NEVER)
    GRANT_DELEGATIONS = (Right.GRANT_DELEGATIONS, _NEVER)

    @property
    def right(self) -> Right:
        return self.value[0]

    @property
    def delegation_flags(self) -> tuple[str, ...] | None:
        return self.value[1]
