"""The broker board's world, on a pinned day (2025-11-26, the summary tests' day).

- Border Brokers (``broker``; its BAM ``broker.bam``) acts for:
  - Maple Imports (``importer``, 2 RMs), every scope: RM0001 has two statements (2,114.04 due,
    1,050.00 overdue, due 2025-12-01), a late draft CAD and one due within 5 business days, and an
    open penalty appeal (filing deadline 2026-02-18);
  - Bravo Trading, no financial scope, delegation ending in 10 days: a security requirement of
    10,000.00 with nothing posted (gap 10,000.00);
- Other Goods (``other_importer``) is another firm's client: never on the board.
- ``clerk``: a broker Editor in a client group holding only Maple.
"""

from __future__ import annotations

import itertools
from datetime import date, timedelta
from decimal import Decimal

import pytest

from accounts.models import Business, ClientGroup
from accounts.roles import Role
from billing.rpp.models import SecurityRequirement
from declarations.models import CAD
from tests import factories
from tests.billing.doc_builders import PERIOD, PREVIOUS, close_statement, post_cads
from tests.clock import on

TODAY = date(2025, 11, 26)
_numbers = itertools.count(1)


@pytest.fixture(autouse=True)
def _today():
    with on(TODAY):
        yield TODAY


def make_draft_cad(account, due: date) -> CAD:
    from accounts.models import User

    n = next(_numbers)
    filer = User.objects.filter(email="filer@example.com").first() or factories.make_user("filer@example.com")
    return CAD.objects.create(transaction_number=f"{55555000000000 + n:014d}", program_account=account,
                              filed_by=filer,
                              status=CAD.Status.DRAFT, release_date=due - timedelta(days=7), due_date=due)


def make_requirement(account, bond: str, cash: str) -> SecurityRequirement:
    return SecurityRequirement.objects.create(
        program_account=account, basis=SecurityRequirement.Basis.ESTIMATE,
        trigger=SecurityRequirement.Trigger.ENROLMENT, as_of=TODAY, first_period=PREVIOUS, last_period=PERIOD,
        highest_month=Decimal(bond), monthly_estimate=Decimal(bond), base_amount=Decimal(cash),
        bond_share=Decimal("0.5"), minimum=Decimal("5000"), maximum=Decimal("10000000"),
        bond_amount=Decimal(bond), cash_amount=Decimal(cash), due_date=TODAY + timedelta(days=30),
    )


@pytest.fixture
def world(importer, other_importer, broker):
    from appeals import services as appeal_services
    from tests.appeals.conftest import make_penalty

    maple_rm1, maple_rm2 = importer.program_accounts.order_by("number")
    factories.make_delegation(importer, broker, valid_from=date(2025, 1, 1))
    post_cads(maple_rm1, PREVIOUS, 1)
    close_statement(maple_rm1, PREVIOUS)
    post_cads(maple_rm1, PERIOD, 1, start=1)
    close_statement(maple_rm1, PERIOD)
    make_draft_cad(maple_rm1, date(2025, 11, 20))  # late
    make_draft_cad(maple_rm1, date(2025, 11, 28))  # due within 5 business days
    make_draft_cad(maple_rm2, date(2025, 12, 31))  # not soon
    officer = factories.make_officer()
    penalty = make_penalty(officer, maple_rm1, served_on=date(2025, 11, 20), today=TODAY)
    appeal_services.appeal_create(actor=importer.bam, penalty=penalty, today=TODAY)

    bravo = factories.make_business(name="Bravo Trading", accounts=1)
    bravo.bam = factories.add_member(bravo, role=Role.BAM)
    factories.make_delegation(bravo, broker, valid_from=date(2025, 1, 1), valid_to=TODAY + timedelta(days=10),
                              financial=False)
    make_requirement(bravo.program_accounts.get(), "10000.00", "20000.00")

    rival = factories.make_business(kind=Business.Kind.BROKER, name="Rival Brokers", accounts=0)
    factories.add_member(rival, role=Role.BAM)
    factories.make_delegation(other_importer, rival, valid_from=date(2025, 1, 1))
    post_cads(other_importer.program_accounts.get(), PREVIOUS, 1)

    clerk = factories.add_member(broker, role=Role.EDITOR)
    group = ClientGroup.objects.create(broker=broker, name="Maple desk")
    group.clients.add(importer)
    group.members.add(clerk)
    return {"maple": importer, "maple_rm1": maple_rm1, "maple_rm2": maple_rm2, "bravo": bravo,
            "other": other_importer, "broker": broker, "clerk": clerk}


def add_clients(broker, n: int, *, start: int = 0) -> None:
    """``n`` more clients with a statement each (for query-count tests)."""
    for i in range(start, start + n):
        client = factories.make_business(name=f"Client {i:04d}", accounts=1)
        factories.make_delegation(client, broker, valid_from=date(2025, 1, 1),
                                  valid_to=TODAY + timedelta(days=20 + i))
        account = client.program_accounts.get()
        post_cads(account, PERIOD, 1)
        make_draft_cad(account, date(2025, 11, 20))
