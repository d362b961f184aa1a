"""Bank of Canada Valet exports (JSON and CSV) loaded idempotently (issue: real rates, not a formula)."""

from datetime import date
from decimal import Decimal as D
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from declarations.models import ExchangeRate

pytestmark = pytest.mark.django_db
DATA = Path(__file__).resolve().parents[2] / "declarations" / "data"


def load(*files) -> str:
    out = StringIO()
    call_command("load_exchange_rates", *map(str, files), stdout=out)
    return out.getvalue()


def test_the_json_sample_loads_once():
    ExchangeRate.objects.all().delete()
    assert "7 created, 0 updated, 0 unchanged (EUR, USD)" in load(DATA / "boc_valet_sample.json")
    assert ExchangeRate.objects.get(currency="USD", date=date(2025, 1, 2)).rate == D("1.4389")
    assert not ExchangeRate.objects.filter(currency="USD", date=date(2025, 1, 7)).exists()  # {"e": -64}: no rate
    assert "0 created, 0 updated, 7 unchanged" in load(DATA / "boc_valet_sample.json")
    assert ExchangeRate.objects.count() == 7


def test_the_csv_sample_reads_only_fx_to_cad_series_and_updates_a_corrected_rate(tmp_path):
    ExchangeRate.objects.all().delete()
    ExchangeRate.objects.create(currency="USD", date=date(2025, 1, 3), rate=D("1.4000"))
    assert "2 created, 1 updated, 0 unchanged (USD)" in load(DATA / "boc_valet_sample.csv")
    assert ExchangeRate.objects.get(currency="USD", date=date(2025, 1, 3)).rate == D("1.4413")
    assert not ExchangeRate.objects.filter(currency="CAD").exists()


@pytest.mark.parametrize("content", [
    '{"observations": [{"d": "2025-13-01", "FXUSDCAD": {"v": "1.4"}}]}',
    '{"observations": [{"d": "2025-01-02", "FXUSDCAD": {"v": "-1"}}]}',
    '{"observations": [{"d": "2025-01-02", "FXUSDCAD": {"v": "1e309"}}]}',
    '"SERIES"\n"id"\n',
    "not a rates file",
])
def test_a_bad_file_is_refused_and_nothing_is_loaded(tmp_path, content):
    ExchangeRate.objects.all().delete()
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    with pytest.raises(CommandError, match="nothing loaded"):
        load(bad)
    assert ExchangeRate.objects.count() == 0
