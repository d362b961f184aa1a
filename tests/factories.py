"""Plain-ORM builders for tests (no mocks: real rows in the real database).

Valid BN9s (Luhn): 123456782, 123026635, and any made by ``make_bn9``.
"""

from __future__ import annotations

import itertools
from datetime import date

from django.utils import timezone
from stdnum import luhn

from accounts.models import Business, Delegation, Membership, ProgramAccount, User
from accounts.roles import Role

_seq = itertools.count(1)
PASSWORD = "test-pass-123"


def make_bn9(seed: int | None = None) -> str:
    base = f"{(seed if seed is not None else next(_seq) + 50000000) % 100000000:08d}"
    return base + luhn.calc_check_digit(base)


def make_user(email: str | None = None, **extra) -> User:
    email = email or f"user{next(_seq)}@example.com"
    return User.objects.create_user(email=email, password=PASSWORD, **extra)


def make_officer(email: str | None = None, **extra) -> User:
    """A CBSA officer: the officer right (group "CBSA officers") and, like CBSA staff, admin access."""
    from accounts.access import grant_cbsa_officer

    extra.setdefault("is_staff", True)
    user = make_user(email, **extra)
    grant_cbsa_officer(user)
    return user


def make_business(*, kind=Business.Kind.IMPORTER, name: str | None = None, bn9: str | None = None,
                  accounts: int = 1, **extra) -> Business:
    bn9 = bn9 or make_bn9()
    if kind == Business.Kind.BROKER:
        extra.setdefault("broker_licence_number", f"LIC{bn9[:5]}")
    business = Business.objects.create(kind=kind, legal_name=name or f"Business {bn9}", bn9=bn9, **extra)
    for i in range(1, accounts + 1):
        ProgramAccount.objects.create(business=business, number=f"{bn9}RM{i:04d}", name=f"RM {i}")
    return business


def add_member(business: Business, user: User | None = None, role=Role.BAM, program_account=None) -> User:
    user = user or make_user()
    Membership.objects.create(user=user, business=business, role=role, program_account=program_account,
                              status=Membership.Status.ACTIVE, decided_at=timezone.now())
    return user


def make_delegation(importer: Business, broker: Business, *, accounts=None, status=Delegation.Status.ACTIVE,
                    valid_from: date | None = None, valid_to: date | None = None, **scopes) -> Delegation:
    fields = {f"scope_{k}": v for k, v in scopes.items()}
    delegation = Delegation.objects.create(
        importer=importer, broker=broker, status=status,
        coverage=Delegation.Coverage.PROGRAM if accounts else Delegation.Coverage.BUSINESS,
        valid_from=valid_from or timezone.localdate(), valid_to=valid_to, **fields,
    )
    if accounts:
        delegation.program_accounts.set(accounts)
    return delegation
