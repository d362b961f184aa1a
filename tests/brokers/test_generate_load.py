"""generate_load --broker: one broker firm acting for every importer created (run twice: it grows)."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from accounts.models import User
from brokers import board as b
from declarations.management.commands.generate_load import LOAD_BROKER_EMAIL

pytestmark = pytest.mark.django_db


def test_generate_load_makes_one_broker_firm_with_n_clients():
    out = StringIO()
    call_command("generate_load", importers=4, months=1, cads_per_month=1, seed=3, broker=True, stdout=out)
    assert "acts for 4 clients" in out.getvalue()
    bam = User.objects.get(email=LOAD_BROKER_EMAIL)
    today = timezone.localdate()
    rows = b.everything(bam, b.BoardQuery(), today=today)
    assert len(rows) == 4
    assert sum(r.expiring for r in rows) == 1  # every 10th client's delegation ends within the month
    call_command("generate_load", importers=2, months=1, cads_per_month=1, seed=4, broker=True, stdout=StringIO())
    assert len(b.everything(bam, b.BoardQuery(), today=today)) == 6
