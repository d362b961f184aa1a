"""Builders for the appeals tests: an RM account, a CBSA officer, accepted CADs, NPAs, SoAs.

The tests run "on" fixed days through the services' ``today`` argument: deterministic.
"""

from __future__ import annotations

import itertools
from datetime import date
from decimal import Decimal

import pytest

from accounts.models import ProgramAccount
from appeals import services
from declarations.models import CAD
from tests import factories

_numbers = itertools.count(1)


@pytest.fixture(autouse=True)
def _private_storage(settings, tmp_path):
    settings.PRIVATE_STORAGE_ROOT = tmp_path / "private"
    settings.CARM = {**settings.CARM, "APPEAL_DEADLINE_ROLLS_TO_BUSINESS_DAY": True}
    return settings.PRIVATE_STORAGE_ROOT


@pytest.fixture
def account(importer) -> ProgramAccount:
    return importer.program_accounts.order_by("number").first()


@pytest.fixture
def cbsa(db):
    return factories.make_officer(email="officer@cbsa.example.com", first_name="Olivia", last_name="Officer")


def make_cad(account, *, dt_total=Decimal("1000.00"), release=date(2025, 2, 3)) -> CAD:
    n = next(_numbers)
    return CAD.objects.create(
        transaction_number=f"{12345000000000 + n:014d}", program_account=account, filed_by=account.business.bam,
        status=CAD.Status.ACCEPTED, release_date=release, dt_total=dt_total, duty_total=dt_total,
    )


def make_penalty(cbsa, account, *, served_on=date(2025, 11, 20), amount="750.00", npa=None, today=None):
    return services.penalty_create(
        actor=cbsa, program_account=account, npa_number=npa or f"NPA-{next(_numbers):06d}", contravention_code="C152",
        amount=Decimal(amount), served_on=served_on, today=today or served_on,
    )


def make_statement(cbsa, account, *, decision_date=date(2025, 3, 14), change="400.00", cad=None, today=None):
    return services.statement_create(
        actor=cbsa, cad=cad or make_cad(account), number=f"SOA-{next(_numbers):06d}", decision_date=decision_date,
        reason="Re-classified from 6109.10 to 6109.90", change=Decimal(change), today=today or decision_date,
    )


def walk_to_assigned(cbsa, appeal):
    appeal = services.appeal_acknowledge(actor=cbsa, appeal=appeal)
    return services.appeal_assign(actor=cbsa, appeal=appeal, officer=cbsa)
