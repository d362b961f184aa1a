"""Demo data for the accounts app: the businesses, people and delegation every demo needs.

Idempotent: running it again finds the same rows (by BN / email) and resets passwords.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils import timezone

from .access import grant_cbsa_officer
from .models import Business, Delegation, Membership, ProgramAccount, User
from .roles import Role

DEMO_IMPORTER_BN = "123456782"
DEMO_OTHER_BN = "123026635"
DEMO_BROKER_BN = "871234563"


@dataclass
class DemoContext:
    password: str
    importer: Business
    other: Business
    broker: Business
    importer_user: User
    other_user: User
    broker_user: User
    admin: User


def _user(email: str, password: str, first: str, last: str, **extra) -> User:
    user, _ = User.objects.get_or_create(email=email, defaults={"first_name": first, "last_name": last, **extra})
    for key, value in extra.items():
        setattr(user, key, value)
    user.set_password(password)
    user.is_active = True
    user.save()
    return user


def _business(bn9: str, **fields) -> Business:
    business, _ = Business.objects.update_or_create(bn9=bn9, defaults=fields)
    return business


def _account(business: Business, suffix: str, name: str, **fields) -> ProgramAccount:
    account, _ = ProgramAccount.objects.update_or_create(
        number=f"{business.bn9}{suffix}", defaults={"business": business, "name": name, **fields}
    )
    return account


def _member(user: User, business: Business, role: str, program_account=None) -> None:
    Membership.objects.update_or_create(
        user=user, business=business, status=Membership.Status.ACTIVE,
        defaults={"role": role, "program_account": program_account, "decided_at": timezone.now()},
    )


def seed(password: str) -> DemoContext:
    importer = _business(
        DEMO_IMPORTER_BN, kind=Business.Kind.IMPORTER, legal_name="Maple Leaf Outfitters Inc.",
        operating_name="Maple Leaf Outfitters", street="200 Bay Street", city="Toronto", province="ON",
        postal_code="M5J 2J2", payment_method=Business.PaymentMethod.PAD,
        billing_contact_email="ap@mapleleaf.example.com",
    )
    main_rm = _account(importer, "RM0001", "Apparel", rpp_status=ProgramAccount.RppStatus.ENROLLED)
    second_rm = _account(importer, "RM0002", "Outdoor equipment")
    other = _business(
        DEMO_OTHER_BN, kind=Business.Kind.IMPORTER, legal_name="Prairie Hardware Ltd.", city="Winnipeg",
        province="MB", street="1 Portage Ave", postal_code="R3B 2B9",
    )
    _account(other, "RM0001", "Hardware")
    broker = _business(
        DEMO_BROKER_BN, kind=Business.Kind.BROKER, legal_name="Northern Customs Brokers Ltd.",
        operating_name="Northern Customs Brokers", broker_licence_number="CB-10442", city="Mississauga",
        province="ON",
    )

    importer_user = _user("importer@example.com", password, "Isabelle", "Tremblay")
    other_user = _user("other@example.com", password, "Oliver", "Singh")
    broker_user = _user("broker@example.com", password, "Bruno", "Lefebvre")
    admin = _user("admin@example.com", password, "Ada", "Admin", is_staff=True, is_superuser=True)
    grant_cbsa_officer(admin)  # a superuser holds every right; the group shows the role in the admin
    _member(importer_user, importer, Role.BAM)
    _member(other_user, other, Role.BAM)
    _member(broker_user, broker, Role.BAM)

    # The broker holds a delegation from the demo importer for one of its two RM accounts only.
    delegation = Delegation.objects.filter(
        importer=importer, broker=broker, status__in=[Delegation.Status.ACTIVE, Delegation.Status.REQUESTED]
    ).first()
    if delegation is None:
        delegation = Delegation.objects.create(
            importer=importer, broker=broker, coverage=Delegation.Coverage.PROGRAM,
            status=Delegation.Status.ACTIVE, valid_from=timezone.localdate(),
            requested_by=broker_user, decided_by=importer_user, decided_at=timezone.now(),
            note="Demo delegation",
        )
    delegation.program_accounts.set([main_rm])
    del second_rm
    return DemoContext(password, importer, other, broker, importer_user, other_user, broker_user, admin)
