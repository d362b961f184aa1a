"""seed_tariffs (idempotent) and generate_load (bulk, consistent with the ledger)."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.db.models import Count, Sum

from billing.ledger.models import LedgerEntry
from carm_portal.money import quantize
from declarations.calculation import cad_totals
from declarations.models import CAD, CADLine, CADVersion, ExchangeRate, TariffItem, TariffRate
from declarations.reference_data import TARIFF_ITEMS

pytestmark = pytest.mark.django_db


def test_seed_tariffs_is_idempotent():
    call_command("seed_tariffs", days=30, stdout=StringIO())
    counts = (TariffItem.objects.count(), TariffRate.objects.count(), ExchangeRate.objects.count())
    call_command("seed_tariffs", days=30, stdout=StringIO())
    assert counts == (TariffItem.objects.count(), TariffRate.objects.count(), ExchangeRate.objects.count())
    assert counts[0] == len(TARIFF_ITEMS) >= 30
    tshirt = TariffItem.objects.get(classification="6109100011")
    assert {r.treatment_id: r.rate for r in tshirt.rates.all()}["MFN"] == quantize("0.18")
    assert not tshirt.rates.filter(treatment_id="GPT").exists()
    usd = ExchangeRate.objects.filter(currency="USD")
    assert all(quantize("1.35") <= r.rate <= quantize("1.41") for r in usd)
    assert set(ExchangeRate.objects.values_list("currency", flat=True)) == {"USD", "EUR", "GBP", "CNY", "MXN", "JPY"}


def test_generate_load_small_run():
    out = StringIO()
    call_command("generate_load", importers=3, months=2, seed=11, stdout=out)
    text = out.getvalue()
    assert "100.0%" in text and "Created" in text
    assert CAD.objects.values("program_account").distinct().count() <= 3
    assert CAD.objects.count() > 0 and CADLine.objects.count() >= CAD.objects.count() - CAD.objects.filter(
        status=CAD.Status.WITHDRAWN).count()
    # Every accepted CAD's ledger entries sum to its current duties and taxes, and its lines to its totals.
    sums = dict(LedgerEntry.objects.values_list("source_id").annotate(s=Sum("amount")))
    for cad in CAD.objects.filter(status__in=[CAD.Status.ACCEPTED, CAD.Status.WITHDRAWN]).prefetch_related("lines"):
        assert quantize(sums.get(cad.pk, 0)) == cad.dt_total
        assert cad_totals(cad.lines.all()).duties_and_taxes == cad.dt_total
        assert cad.versions.filter(number=cad.current_version).get().dt_total == cad.dt_total
    assert not CADVersion.objects.values("cad").annotate(n=Count("id")).filter(n__gt=2).exists()
    assert not LedgerEntry.objects.exclude(billing_period__day=17).exists()
    # Rerunning adds more importers; nothing collides.
    call_command("generate_load", importers=2, months=1, seed=11, stdout=StringIO())


def test_history_for_a_demo_account_filed_by_its_broker(importer, account, broker):
    from declarations import transaction_numbers as tn
    from declarations.load import CadHistoryGenerator

    stats = CadHistoryGenerator(seed=3, filed_by=broker.bam, broker=broker).generate(
        [account], months=12, cads_per_month=6)
    cads = CAD.objects.filter(program_account=account)
    assert stats.cads == cads.count() > 40
    assert set(cads.values_list("broker", flat=True)) == {broker.pk}
    assert all(n.startswith(tn.account_security_prefix(broker.bn9)) for n in cads.values_list("transaction_number",
                                                                                             flat=True))
    months = {d.strftime("%Y-%m") for d in cads.values_list("release_date", flat=True)}
    assert len(months) >= 11
