"""The RPP demo seed: RM0001 enrolled with a shortfall, RM0002 not enrolled; idempotent."""

import io

import pytest

from accounts import demo
from accounts.models import ProgramAccount
from billing.rpp import demo as rpp_demo
from billing.rpp.models import Bond, RppEnrolment, SecurityRequirement
from billing.rpp.selectors import positions_for

pytestmark = pytest.mark.django_db


def test_seed_is_idempotent_and_leaves_a_shortfall():
    ctx = demo.seed("demo-pass")
    rpp_demo.seed(ctx, stdout=io.StringIO())
    rpp_demo.seed(ctx, stdout=io.StringIO())
    main = ProgramAccount.objects.get(number="123456782RM0001")
    second = ProgramAccount.objects.get(number="123456782RM0002")
    assert main.rpp_status == "enrolled" and second.rpp_status == "not_enrolled"
    assert RppEnrolment.objects.get(program_account=second).status == "not_enrolled"
    assert Bond.objects.filter(bond_number=rpp_demo.DEMO_BOND_NUMBER).count() == 1
    assert SecurityRequirement.objects.filter(program_account=main).count() == 1
    pos = positions_for([main])[main.pk]
    assert pos.shortfall > 0 and pos.bond_posted > 0
