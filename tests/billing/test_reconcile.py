"""Statement reconciler (billing/reconcile.py): a worked case to the cent, each group, bad files,
the gate, the API, the CSV export and query counts constant in the number of lines."""

from __future__ import annotations

import itertools
from datetime import date, timedelta
from decimal import Decimal as D

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.acting import SESSION_KEY
from accounts.models import Business
from billing import reconcile
from billing.ledger import services as ledger
from billing.ledger.models import LedgerEntry
from billing.models import Payment, Statement
from billing.payments import payment_record
from carm_portal import calendar
from carm_portal.models import InterestRate
from declarations.models import CAD, CADVersion
from tests import factories
from tests.billing.doc_builders import close_statement
from tests.clock import on

pytestmark = pytest.mark.django_db
K = LedgerEntry.Kind
PREVIOUS = date(2026, 2, 17)
PERIOD = date(2026, 3, 17)
TODAY = date(2026, 3, 20)
_seq = itertools.count(1)


@pytest.fixture(autouse=True)
def nine_percent():
    set_nine_percent()


def set_nine_percent():
    InterestRate.objects.all().delete()
    InterestRate.objects.create(effective_from=date(2025, 1, 1), annual_rate=D("0.09"))


@pytest.fixture(autouse=True)
def private_storage(settings, tmp_path):
    settings.PRIVATE_STORAGE_ROOT = tmp_path / "private"


def number(account, n: int) -> str:
    return f"{account.number[:5]}{n:09d}"


def make_cad(account, n: int, *, broker=None, status=CAD.Status.ACCEPTED, period=PERIOD, versions=(),
             post=True) -> CAD:
    """A CAD whose versions are (kind, dt_total, billed period); each applied version posts its difference."""
    cad = CAD.objects.create(
        transaction_number=number(account, n), program_account=account, filed_by=account.business.bam,
        broker=broker, status=status, release_date=period - timedelta(days=10),
        billing_period=period if status != CAD.Status.SUBMITTED else None,
    )
    previous_total = D("0.00")
    for i, (kind, total, billed_in) in enumerate(versions, start=1):
        total = D(total)
        entry = None
        if post:
            delta = total - previous_total
            entry = ledger.post_entry(
                program_account=account, kind=K.CAD_CHARGE if i == 1 else K.CAD_CORRECTION,
                effective_date=billed_in - timedelta(days=3), billing_period=billed_in,
                breakdown={"duty": delta}, reference=cad.transaction_number,
                idempotency_key=f"recon:{cad.pk}:{i}:{next(_seq)}")
        CADVersion.objects.create(cad=cad, number=i, kind=kind, status=CADVersion.Status.APPROVED,
                                  filed_by=account.business.bam, dt_total=total, duty_total=total,
                                  ledger_entry=entry)
        previous_total = total
    cad.current_version = len(versions)
    cad.dt_total = previous_total
    cad.duty_total = previous_total
    cad.save()
    return cad


@pytest.fixture
def world(importer, other_importer, broker):
    return build_world(importer, other_importer, broker)


def build_world(importer, other_importer, broker, *, appeal_credit: bool = False):
    """The worked case: a carried-over debt, a CAD by another broker, a corrected CAD, interest, a partial
    credit and a cheque payment (``appeal_credit``: and a 700.00 appeal-decision credit)."""
    other_broker = factories.make_business(kind=Business.Kind.BROKER, name="Other Customs Ltd.", accounts=0)
    factories.make_delegation(importer, broker, valid_from=date(2025, 1, 1))
    account, second = importer.program_accounts.order_by("number")
    V = CADVersion.Kind
    cads = {}
    with on(PREVIOUS - timedelta(days=5)):
        cads["prev_by_us"] = make_cad(account, 1, broker=broker, period=PREVIOUS,
                                      versions=[(V.ORIGINAL, "1000.00", PREVIOUS)])
    with on(PREVIOUS + timedelta(days=1)):
        close_statement(account, PREVIOUS)
    with on(PERIOD - timedelta(days=8)):
        cads["ours"] = make_cad(account, 2, broker=broker, versions=[(V.ORIGINAL, "1200.00", PERIOD)])
        cads["other_broker"] = make_cad(account, 3, broker=other_broker, versions=[(V.ORIGINAL, "500.00", PERIOD)])
        cads["corrected"] = make_cad(account, 4, versions=[(V.ORIGINAL, "800.00", PERIOD),
                                                            (V.CORRECTION, "700.00", PERIOD)])
        cads["withdrawn"] = make_cad(account, 5, broker=broker, status=CAD.Status.WITHDRAWN, post=False,
                                     versions=[(V.ORIGINAL, "300.00", PERIOD)])
        cads["submitted"] = make_cad(account, 6, broker=broker, status=CAD.Status.SUBMITTED, post=False,
                                     versions=[(V.ORIGINAL, "90.00", PERIOD)])
        cads["second_rm"] = make_cad(second, 7, broker=broker, versions=[(V.ORIGINAL, "60.00", PERIOD)])
        other_account = other_importer.program_accounts.first()
        cads["foreign"] = make_cad(other_account, 8, versions=[(V.ORIGINAL, "70.00", PERIOD)])
        ledger.post_entry(program_account=account, kind=K.OFFSET, amount=D("-50.00"), effective_date=PERIOD,
                          billing_period=PERIOD, description="Partial credit from refund R-1",
                          idempotency_key="recon:offset")
    with on(date(2026, 3, 10)):
        payment_record(importer.bam, account, Payment.Method.CHEQUE, "CHQ-1", D("400.00"), date(2026, 3, 10))
    if appeal_credit:
        with on(PERIOD - timedelta(days=5)):
            ledger.post_entry(program_account=account, kind=K.APPEAL_DECISION, amount=D("-700.00"),
                              effective_date=PERIOD - timedelta(days=5), billing_period=PERIOD,
                              reference="SOA-9", description="Appeal decision SOA-9",
                              idempotency_key="recon:appeal-credit")
    with on(PERIOD + timedelta(days=1)):
        statement = close_statement(account, PERIOD)
    return {"account": account, "second": second, "statement": statement, "cads": cads,
            "broker": broker, "other_broker": other_broker}


LIST_CSV = "\n".join([
    "Transaction number,Amount",
    "{ours},1200.00",
    "{corrected},800.00",
    "{prev},1000.00",
    "{withdrawn},300.00",
    "{submitted},90.00",
    "{second},60.00",
    "{foreign},70.00",
    "99999999999999,12.34",
]) + "\n"


def the_list(world) -> bytes:
    c = world["cads"]
    return LIST_CSV.format(
        ours=c["ours"].transaction_number, corrected=c["corrected"].transaction_number,
        prev=c["prev_by_us"].transaction_number, withdrawn=c["withdrawn"].transaction_number,
        submitted=c["submitted"].transaction_number, second=c["second_rm"].transaction_number,
        foreign=c["foreign"].transaction_number).encode()


def run(world, content: bytes, user=None):
    with on(TODAY):
        result, parsed = reconcile.reconcile_or_error(world["statement"], user=user or world["broker"].bam,
                                                      today=TODAY, content=content)
    return result


def test_worked_case_reconciles_to_the_cent(world):
    s = world["statement"]
    c = world["cads"]
    result = run(world, the_list(world))
    # The statement: 1000.00 carried over; 1200 + 500 + 800 − 100 CAD lines; −50 credit; −400 cheque; interest.
    assert s.opening_balance == D("1000.00")
    assert result.cad_total == D("2400.00")
    assert result.listed_total == D("3532.34")
    interest = sum((line.amount for line in result.interest), D("0.00"))
    assert interest > 0
    penalties = sum((line.amount for line in result.penalties), D("0.00"))
    expected = D("1000.00") + D("2400.00") - D("50.00") - D("400.00") + interest + penalties
    assert s.closing_balance == expected
    assert result.explained_total == s.closing_balance and result.reconciles
    # Groups.
    assert [r.transaction_number for r in result.matched] == [c["ours"].transaction_number]
    assert result.matched[0].filer == reconcile.FILER_THIS_BROKER
    [unlisted] = result.unlisted
    assert unlisted.transaction_number == c["other_broker"].transaction_number
    assert (unlisted.filer, unlisted.filer_name, unlisted.billed) == (
        reconcile.FILER_OTHER_BROKER, "Other Customs Ltd.", D("500.00"))
    [differ] = result.differ
    assert (differ.transaction_number, differ.listed, differ.billed, differ.difference) == (
        c["corrected"].transaction_number, D("800.00"), D("700.00"), D("-100.00"))
    assert differ.filer == reconcile.FILER_IMPORTER
    assert [(v.number, v.kind, v.dt_total, v.posted) for v in differ.versions] == [
        (1, "original", D("800.00"), D("800.00")), (2, "correction", D("700.00"), D("-100.00"))]
    assert "version 1" in differ.explanation
    reasons = {r.transaction_number: r.reason for r in result.not_on_statement}
    assert reasons == {
        c["prev_by_us"].transaction_number: reconcile.WHY_OTHER_PERIOD,
        c["withdrawn"].transaction_number: reconcile.WHY_WITHDRAWN,
        c["submitted"].transaction_number: reconcile.WHY_NOT_ACCEPTED,
        c["second_rm"].transaction_number: reconcile.WHY_OTHER_RM,
        c["foreign"].transaction_number: reconcile.WHY_NOT_FOUND,  # another importer's RM: not revealed
        "99999999999999": reconcile.WHY_NOT_FOUND,
    }
    prev = next(r for r in result.not_on_statement if r.reason == reconcile.WHY_OTHER_PERIOD)
    assert prev.other_statement_id == Statement.objects.get(program_account=world["account"], period_end=PREVIOUS).pk
    # Other lines: opening from the previous statement; the credit; the cheque; interest by the engine.
    assert result.opening["period_end"] == PREVIOUS
    assert result.opening["due_date"] == calendar.payment_due_date(PREVIOUS)
    assert [(line.amount, line.description) for line in result.credits] == [
        (D("-50.00"), "Partial credit from refund R-1")]
    assert result.payments == {"Cheque": D("400.00")}
    pieces = result.interest_pieces
    assert pieces and pieces[-1].last == PERIOD
    exact = sum((p.balance * p.rate * p.days / 365 for p in pieces), D("0"))
    assert exact.quantize(D("0.01")) == interest
    # The amount due is billing/summary's; a short-pay is warned against.
    assert result.amount_due == s.closing_balance
    assert "in full" in result.short_pay_warning and f"${result.amount_due:,.2f}" in result.short_pay_warning


def test_interest_pieces_by_day_range(world):
    """Due date of the previous statement → 1000.00 overdue until the cheque, 600.00 after (9 %)."""
    result = run(world, the_list(world))
    due = calendar.payment_due_date(PREVIOUS)
    balances = [(p.first, p.balance) for p in result.interest_pieces]
    assert balances[0] == (due + timedelta(days=1), D("1000.00")) or balances[0][0] >= PERIOD - timedelta(days=30)
    assert D("600.00") in {p.balance for p in result.interest_pieces}


def test_firm_cads_as_a_broker(world):
    with on(TODAY):
        result, _parsed = reconcile.reconcile_or_error(world["statement"], user=world["broker"].bam, today=TODAY,
                                                       use_firm_cads=True)
    assert [r.transaction_number for r in result.matched] == [world["cads"]["ours"].transaction_number]
    assert {r.transaction_number for r in result.unlisted} == {
        world["cads"]["other_broker"].transaction_number, world["cads"]["corrected"].transaction_number}
    assert [r.reason for r in result.not_on_statement] == [reconcile.WHY_WITHDRAWN]


def test_firm_cads_refused_for_an_importer(world, importer):
    with pytest.raises(reconcile.ApplicationError) as exc:
        reconcile.reconcile_or_error(world["statement"], user=importer.bam, today=TODAY, use_firm_cads=True)
    assert "source" in exc.value.field_errors


def test_importer_sees_brokers_as_filers(world, importer):
    result = run(world, the_list(world), user=importer.bam)
    assert result.matched[0].filer == reconcile.FILER_OTHER_BROKER  # not "this broker" for the importer


@pytest.mark.parametrize("content, field_text", [
    (b"\xff\xfe\x00bad", "UTF-8"),
    (b"Transaction number,Amount\n12,1.00\n", "14 digits"),
    (b"Transaction number,Amount\n12345123456789,abc\n", "Not a number"),
    (b"Transaction number,Amount\n12345123456789,1.005\n", "decimal places"),
    (b"Transaction number,Amount\n12345123456789,1e999\n", ""),
    (b"Transaction number,Amount\n12345123456789,1.00\n12345123456789,2.00\n", "already on row 2"),
    (b"Transaction number,Amount\n12345123456789," + b"9" * 2000 + b"\n", "longer than"),
    (b"", ""),
    (b"PK\x03\x04rest", "XLSX workbook"),
])
def test_bad_files_are_field_errors(world, content, field_text):
    with pytest.raises(reconcile.ApplicationError) as exc:
        run(world, content)
    messages = " ".join(exc.value.field_errors["file"])
    assert field_text in messages


def test_unclear_headers_ask_for_a_mapping_then_use_it(world):
    n = world["cads"]["ours"].transaction_number
    content = f"Ref,Dollars,Note\n{n},1200.00,x\n".encode()
    with on(TODAY):
        result, parsed = reconcile.reconcile_or_error(world["statement"], user=world["broker"].bam, today=TODAY,
                                                      content=content)
        assert result is None and parsed.needs_mapping and parsed.headers == ["Ref", "Dollars", "Note"]
        result, _parsed = reconcile.reconcile_or_error(world["statement"], user=world["broker"].bam, today=TODAY,
                                                       content=content, number_column="Ref", amount_column="dollars")
    assert [r.transaction_number for r in result.matched] == [n]


def test_french_headers_and_dollar_signs(world):
    n = world["cads"]["ours"].transaction_number
    result = run(world, "Numéro de transaction,Montant\n".encode()
                 + f"{n},\"$1,200.00\"\n".encode())
    assert [r.transaction_number for r in result.matched] == [n]


def test_csv_export_has_plain_decimals(world):
    result = run(world, the_list(world))
    rows = list(reconcile.csv_rows(result))
    assert rows[0] == reconcile.CSV_HEADER
    differ = next(r for r in rows if r[0] == "differ")
    assert differ[2:5] == ["800.00", "700.00", "-100.00"]
    assert ["closing", "", "", f"{world['statement'].closing_balance:.2f}", "", "", "", ""] in rows


# --- Web page and API -----------------------------------------------------------------------------------

def login(client, user, business):
    client.force_login(user)
    session = client.session
    session[SESSION_KEY] = business.pk
    session.save()
    return client


def test_page_shows_each_group(client, world, importer):
    login(client, world["broker"].bam, importer)
    url = reverse("billing-statement-reconcile", args=[world["statement"].pk])
    assert client.get(url).status_code == 200
    from django.core.files.uploadedfile import SimpleUploadedFile
    with on(TODAY):
        response = client.post(url, {"source": "file", "file": SimpleUploadedFile("list.csv", the_list(world))})
    assert response.status_code == 200
    html = response.content.decode()
    for group in ("group-matched", "group-differ", "group-unlisted", "group-not-on-statement", "other-lines",
                  "short-pay"):
        assert f'id="{group}"' in html
    assert "Other Customs Ltd." in html and "Cheque" in html
    detail = client.get(reverse("billing-statement-detail", args=[world["statement"].pk])).content.decode()
    assert url in detail  # the "Reconcile" action


def test_page_csv_export(client, world, importer):
    from django.core.files.uploadedfile import SimpleUploadedFile
    login(client, world["broker"].bam, importer)
    url = reverse("billing-statement-reconcile", args=[world["statement"].pk])
    with on(TODAY):
        response = client.post(url, {"source": "file", "export": "csv",
                                     "file": SimpleUploadedFile("list.csv", the_list(world))})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    body = b"".join(response.streaming_content).decode()
    assert "differ," in body and "-100.00" in body


def test_page_bad_file_is_a_field_error(client, world, importer):
    from django.core.files.uploadedfile import SimpleUploadedFile
    login(client, world["broker"].bam, importer)
    url = reverse("billing-statement-reconcile", args=[world["statement"].pk])
    response = client.post(url, {"source": "file", "file": SimpleUploadedFile("x.csv", b"Transaction number,Amount\n1,x\n")})
    assert response.status_code == 400
    assert "14 digits" in response.content.decode()
    response = client.post(url, {"source": "file"})
    assert response.status_code == 400 and "Choose a CSV or XLSX file" in response.content.decode()


def test_gate_404_for_another_importers_statement(client, world, other_importer):
    login(client, other_importer.bam, other_importer)
    url = reverse("billing-statement-reconcile", args=[world["statement"].pk])
    assert client.get(url).status_code == 404
    api = reverse("api-statement-reconcile", args=[world["statement"].pk])
    client.force_login(other_importer.bam)
    assert client.post(api, {"source": "firm"}).status_code == 404


def test_api_reconcile(client, world):
    client.force_login(world["broker"].bam)
    url = reverse("api-statement-reconcile", args=[world["statement"].pk])
    from django.core.files.uploadedfile import SimpleUploadedFile
    with on(TODAY):
        response = client.post(url, {"file": SimpleUploadedFile("list.csv", the_list(world))})
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["counts"] == {"matched": 1, "unlisted": 1, "not_on_statement": 6, "differ": 1}
    assert data["differ"][0]["difference"] == "-100.00"
    assert data["reconciles"] is True
    assert data["amount_due"] == f"{world['statement'].closing_balance:.2f}"
    bad = client.post(url, {"file": SimpleUploadedFile("list.csv", b"Transaction number,Amount\n1,2\n")})
    assert bad.status_code == 400 and "file" in bad.json()


def test_query_count_constant_in_the_number_of_lines(world):
    account = world["account"]
    statement = world["statement"]

    def count() -> int:
        content = the_list(world)
        with CaptureQueriesContext(connection) as ctx:
            run(world, content)
        return len(ctx.captured_queries)

    count()  # warms the reference-table caches
    before = count()
    V = CADVersion.Kind
    with on(PERIOD - timedelta(days=8)):
        for n in range(100, 120):
            make_cad(account, n, versions=[(V.ORIGINAL, "10.00", PERIOD), (V.CORRECTION, "11.00", PERIOD)])
    world["statement"] = statement  # the same statement: its lines are the ledger's, now 40 more
    after = count()
    assert after == before


def test_a_second_look_shows_what_changed(client, world, importer):
    from billing.models import SavedReconciliation

    client.force_login(world["broker"].bam)
    url = reverse("api-statement-reconcile", args=[world["statement"].pk])
    from django.core.files.uploadedfile import SimpleUploadedFile
    with on(TODAY):
        first = client.post(url, {"file": SimpleUploadedFile("l.csv", the_list(world)), "save": "true"}).json()
    assert first["changes"] == []
    corrected = world["cads"]["corrected"].transaction_number
    fixed = the_list(world).replace(f"{corrected},800.00".encode(), f"{corrected},700.00".encode())
    with on(TODAY):
        second = client.post(url, {"file": SimpleUploadedFile("l.csv", fixed), "save": "true"}).json()
    assert second["changes"] == [{
        "transaction_number": corrected, "before_group": "differ", "now_group": "matched",
        "before_billed": "700.00", "now_billed": "700.00", "before_listed": "800.00", "now_listed": "700.00"}]
    assert SavedReconciliation.objects.filter(statement=world["statement"]).count() == 2
    # The web page saves too and shows the change section.
    login(client, world["broker"].bam, importer)
    page = reverse("billing-statement-reconcile", args=[world["statement"].pk])
    with on(TODAY):
        html = client.post(page, {"source": "file", "file": SimpleUploadedFile("l.csv", fixed)}).content.decode()
    assert "Nothing changed since" in html, html[html.find("id=\"changes\""):][:1500]


def test_page_pdf_export(client, world, importer):
    """Saved first, then the saved one's PDF (rendered at once in the eager demo/tests)."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from billing.models import SavedReconciliation
    login(client, world["broker"].bam, importer)
    url = reverse("billing-statement-reconcile", args=[world["statement"].pk])
    with on(TODAY):
        response = client.post(url, {"source": "file", "export": "pdf",
                                     "file": SimpleUploadedFile("list.csv", the_list(world))})
    saved = SavedReconciliation.objects.get(statement=world["statement"], created_by=world["broker"].bam)
    pdf_url = reverse("billing-reconciliation-pdf", args=[saved.pk])
    assert response.status_code == 302 and response["Location"] == pdf_url
    response = client.get(pdf_url)
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert b"".join(response.streaming_content).startswith(b"%PDF")


def xlsx(rows) -> bytes:
    import io

    from openpyxl import Workbook

    workbook = Workbook()
    for row in rows:
        workbook.active.append(row)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def test_xlsx_list_reads_like_a_csv(world):
    c = world["cads"]
    content = xlsx([["Transaction number", "Amount"], [c["ours"].transaction_number, 1200],
                    [int(c["corrected"].transaction_number), 800.0], [c["other_broker"].transaction_number, "500.00"]])
    result = run(world, content)
    assert [r.transaction_number for r in result.matched] == [
        c["ours"].transaction_number, c["other_broker"].transaction_number]
    assert [(r.listed, r.billed) for r in result.differ] == [(D("800.00"), D("700.00"))]
    assert result.listed_total == D("2500.00")


def test_xlsx_limits_are_the_csv_limits(world, settings):
    settings.CARM = {**getattr(settings, "CARM", {}), "CSV_MAX_ROWS": 3}
    n = world["cads"]["ours"].transaction_number
    with pytest.raises(reconcile.ApplicationError) as exc:
        run(world, xlsx([["Transaction number", "Amount"], *([[n, 1]] * 5)]))
    assert "more than 3 lines" in " ".join(exc.value.field_errors["file"])
    with pytest.raises(reconcile.ApplicationError) as exc:
        run(world, xlsx([["Transaction number", "Amount"], [n, "x" * 5000]]))
    assert "longer than" in " ".join(exc.value.field_errors["file"])


def test_a_file_over_the_upload_limit_is_refused(world, settings):
    settings.CARM = {**getattr(settings, "CARM", {}), "UPLOAD_MAX_BYTES": 100}
    with pytest.raises(reconcile.ApplicationError) as exc:
        run(world, b"Transaction number,Amount\n" + b"12345123456789,1.00\n" * 10)
    assert "larger than 100 bytes" in " ".join(exc.value.field_errors["file"])


def test_the_column_mapping_is_remembered_per_user(client, world, importer):
    from django.core.files.uploadedfile import SimpleUploadedFile

    login(client, world["broker"].bam, importer)
    url = reverse("billing-statement-reconcile", args=[world["statement"].pk])
    n = world["cads"]["ours"].transaction_number
    content = f"Ref,Dollars\n{n},1200.00\n".encode()
    with on(TODAY):
        first = client.post(url, {"source": "file", "file": SimpleUploadedFile("l.csv", content)})
        assert "The columns are not obvious" in first.content.decode()
        client.post(url, {"source": "file", "number_column": "Ref", "amount_column": "Dollars",
                          "file": SimpleUploadedFile("l.csv", content)})
    page = client.get(url).content.decode()
    assert 'value="Ref"' in page and 'value="Dollars"' in page
    login(client, importer.bam, importer)  # another user: nothing remembered
    assert 'value="Ref"' not in client.get(url).content.decode()


# --- What each credit paid (billing.offsetting answers through reconcile.register_credit_explainer) ---------

@pytest.fixture
def paid_world(importer, other_importer, broker):
    """The worked case with an appeal-decision credit of 700.00 that paid 600.00 of the carried-over CAD
    (1000.00) and 100.00 of this period's CAD by us; the cheque paid the other 400.00 of the carried-over CAD."""
    from billing.offsetting.models import Allocation

    world = build_world(importer, other_importer, broker, appeal_credit=True)
    account = world["account"]
    c = world["cads"]
    debt_prev = LedgerEntry.objects.get(program_account=account, reference=c["prev_by_us"].transaction_number)
    debt_ours = LedgerEntry.objects.get(program_account=account, reference=c["ours"].transaction_number)
    credit = LedgerEntry.objects.get(program_account=account, reference="SOA-9")
    cheque = Payment.objects.get(reference="CHQ-1").ledger_entry
    Allocation.objects.create(credit=credit, debt=debt_prev, amount=D("600.00"), applied_on=date(2026, 3, 12),
                              method=Allocation.Method.MANUAL)
    Allocation.objects.create(credit=credit, debt=debt_ours, amount=D("100.00"), applied_on=date(2026, 3, 13),
                              method=Allocation.Method.MANUAL)
    Allocation.objects.create(credit=cheque, debt=debt_prev, amount=D("400.00"), applied_on=date(2026, 3, 10))
    world.update(credit=credit, cheque=cheque, debt_prev=debt_prev, debt_ours=debt_ours)
    return world


def test_each_credit_says_which_debts_it_paid(paid_world):
    c = paid_world["cads"]
    prev, ours = c["prev_by_us"].transaction_number, c["ours"].transaction_number
    result = run(paid_world, the_list(paid_world))
    assert result.reconciles
    appeal = next(line for line in result.credits if line.reference == "SOA-9")
    assert appeal.amount == D("-700.00")
    assert [(p.debt_id, p.reference, p.amount, p.applied_on) for p in appeal.paid] == [
        (paid_world["debt_prev"].pk, prev, D("600.00"), date(2026, 3, 12)),
        (paid_world["debt_ours"].pk, ours, D("100.00"), date(2026, 3, 13))]
    assert appeal.paid_text == f"paid: CAD {prev} $600.00 on 2026-03-12; CAD {ours} $100.00 on 2026-03-13"
    offset = next(line for line in result.credits if line.kind == K.OFFSET)
    assert offset.paid == []  # an offset entry is a transfer, never a credit that pays
    [cheque] = result.payment_lines
    assert [(p.reference, p.amount) for p in cheque.paid] == [(prev, D("400.00"))]


def test_a_debt_on_an_rm_the_reader_may_not_see_is_not_named(paid_world, importer):
    """A credit that paid another RM's debt (auto_business): the amount and day, not the transaction number."""
    from billing.offsetting.models import Allocation

    second = paid_world["second"]
    hidden = LedgerEntry.objects.get(program_account=second, reference=paid_world["cads"]["second_rm"].transaction_number)
    Allocation.objects.create(credit=paid_world["cheque"], debt=hidden, amount=D("60.00"),
                              applied_on=date(2026, 3, 11))
    result = run(paid_world, the_list(paid_world))  # the broker sees both RMs (whole-business delegation)
    [cheque] = result.payment_lines
    assert [p.reference for p in cheque.paid] == [paid_world["cads"]["prev_by_us"].transaction_number,
                                                  paid_world["cads"]["second_rm"].transaction_number]
    from billing.offsetting.explain import debts_paid
    only_first = debts_paid([paid_world["cheque"].pk], [paid_world["account"].pk])
    assert [(p.debt_id, p.reference, p.amount) for p in only_first[paid_world["cheque"].pk]] == [
        (paid_world["debt_prev"].pk, paid_world["cads"]["prev_by_us"].transaction_number, D("400.00")),
        (None, "", D("60.00"))]
    assert only_first[paid_world["cheque"].pk][1].label == "a debt on another RM account"


def test_page_api_and_csv_say_what_each_credit_paid(client, paid_world, importer):
    from django.core.files.uploadedfile import SimpleUploadedFile

    c = paid_world["cads"]
    prev, ours = c["prev_by_us"].transaction_number, c["ours"].transaction_number
    statement = paid_world["statement"]
    login(client, paid_world["broker"].bam, importer)
    url = reverse("billing-statement-reconcile", args=[statement.pk])
    with on(TODAY):
        html = client.post(url, {"source": "file", "file": SimpleUploadedFile("l.csv", the_list(paid_world))}
                           ).content.decode()
    assert f"paid CAD {prev} $600.00 on 2026-03-12" in html
    assert f"paid CAD {ours} $100.00 on 2026-03-13" in html
    assert f"paid CAD {prev} $400.00 on 2026-03-10" in html  # the cheque
    with on(TODAY):
        response = client.post(url, {"source": "file", "export": "csv",
                                     "file": SimpleUploadedFile("l.csv", the_list(paid_world))})
    rows = [line.split(",") for line in b"".join(response.streaming_content).decode().splitlines()]
    credit_at = next(i for i, r in enumerate(rows) if r[0] == "credit" and r[1] == "SOA-9")
    assert rows[credit_at + 1][:4] == ["credit_paid", prev, "", "600.00"]
    assert rows[credit_at + 2][:4] == ["credit_paid", ours, "", "100.00"]
    assert rows[credit_at + 1][7] == f"2026-03-12 CAD {prev}"
    api = reverse("api-statement-reconcile", args=[statement.pk])
    with on(TODAY):
        data = client.post(api, {"file": SimpleUploadedFile("l.csv", the_list(paid_world))}).json()
    appeal = next(line for line in data["credits"] if line["reference"] == "SOA-9")
    assert appeal["paid"] == [
        {"debt_id": paid_world["debt_prev"].pk, "reference": prev, "description": "", "kind": "cad_charge",
         "amount": "600.00", "applied_on": "2026-03-12"},
        {"debt_id": paid_world["debt_ours"].pk, "reference": ours, "description": "", "kind": "cad_charge",
         "amount": "100.00", "applied_on": "2026-03-13"}]
    assert [p["amount"] for p in data["payment_lines"][0]["paid"]] == ["400.00"]


def test_query_count_does_not_grow_with_the_credits(paid_world):
    from billing.offsetting.models import Allocation

    def count() -> int:
        content = the_list(paid_world)
        with CaptureQueriesContext(connection) as ctx:
            run(paid_world, content)
        return len(ctx.captured_queries)

    count()
    before = count()
    account = paid_world["account"]
    # Straight into the statement's period (the bulk loader does not move entries to the open period).
    ledger.post_entries_bulk([ledger.build_entry(
        program_account=account, kind=K.APPEAL_DECISION, amount=D("-1.00"), effective_date=PERIOD - timedelta(days=4),
        billing_period=PERIOD, reference=f"SOA-X{i}", idempotency_key=f"recon:many:{i}") for i in range(10)])
    for credit in LedgerEntry.objects.filter(reference__startswith="SOA-X"):
        Allocation.objects.create(credit=credit, debt=paid_world["debt_ours"], amount=D("1.00"),
                                  applied_on=PERIOD - timedelta(days=4))
    after = count()  # the same statement: its lines are the ledger's, now 10 more credits
    result = run(paid_world, the_list(paid_world))
    assert sum(1 for line in result.credits if line.paid) == 11
    assert after == before


def test_reconciliation_pdf_through_the_worker(client, paid_world, importer, settings, tmp_path,
                                               django_capture_on_commit_callbacks):
    """No eager rendering: the page answers 202 and asks the pdf worker once; the task renders the saved
    reconciliation (credits and what they paid included); then the page serves the file."""
    import subprocess

    from django.core.files.uploadedfile import SimpleUploadedFile

    from billing import pdf_tasks
    from billing.models import SavedReconciliation
    from carm_portal.models import OutboxItem
    from tests.billing.test_pdf import poppler

    settings.CELERY_TASK_ALWAYS_EAGER = False
    statement = paid_world["statement"]
    login(client, paid_world["broker"].bam, importer)
    url = reverse("billing-statement-reconcile", args=[statement.pk])
    with on(TODAY):
        response = client.post(url, {"source": "file", "export": "pdf",
                                     "file": SimpleUploadedFile("l.csv", the_list(paid_world))})
    saved = SavedReconciliation.objects.get(statement=statement)
    assert response.status_code == 302
    with django_capture_on_commit_callbacks(execute=False):
        first = client.get(response["Location"])
        again = client.get(response["Location"])
    assert first.status_code == 202 and first["Retry-After"] and again.status_code == 202
    assert OutboxItem.objects.filter(task="billing.pdf.render_reconciliation", args=[saved.pk]).count() == 1
    assert pdf_tasks.render_reconciliation.run(saved.pk).startswith("rendered ")  # what the worker runs
    assert pdf_tasks.render_reconciliation.run(saved.pk).startswith("cached ")
    assert pdf_tasks.render_reconciliation.run(10**9) == "gone"
    served = client.get(response["Location"])
    assert served.status_code == 200 and served["Content-Type"] == "application/pdf"
    data = b"".join(served.streaming_content)
    (tmp_path / "r.pdf").write_bytes(data)
    text = subprocess.run([poppler("pdftotext"), str(tmp_path / "r.pdf"), "-"], check=True, capture_output=True,
                          text=True).stdout
    text = " ".join(text.split())
    prev = paid_world["cads"]["prev_by_us"].transaction_number
    assert f"paid CAD {prev} $600.00 on 2026-03-12" in text
    # Another user (even one who may see the statement) never gets someone's saved reconciliation.
    login(client, importer.bam, importer)
    assert client.get(response["Location"]).status_code == 404


# --- Entry point: the dashboard's balance panel ------------------------------------------------------------

def test_dashboard_links_to_the_latest_statements_reconcile_page(client, world, importer):
    statement = world["statement"]  # the newest statement (PERIOD) of the importer's first RM
    url = reverse("billing-statement-reconcile", args=[statement.pk])
    for user in (importer.bam, world["broker"].bam):  # the importer's BAM; its broker acting for it
        with on(TODAY):
            html = login(client, user, importer).get(reverse("dashboard")).content.decode()
        assert f'href="{url}" id="panel-reconcile"' in html
        assert f"Reconcile the statement of {PERIOD:%Y-%m-%d} ({statement.program_account.number})" in html


def test_no_reconcile_link_without_the_financial_scope(client, world, importer):
    from accounts.roles import Role

    clerk_firm = factories.make_business(kind=Business.Kind.BROKER, name="Paper Only Ltd.", accounts=0)
    bam = factories.add_member(clerk_firm, role=Role.BAM)
    factories.make_delegation(importer, clerk_firm, valid_from=date(2025, 1, 1), financial=False)
    with on(TODAY):
        html = login(client, bam, importer).get(reverse("dashboard")).content.decode()
        # Nor the board's action target: the RM is outside the gate for billing.
        latest = client.get(reverse("billing-account-reconcile-latest", args=[world["account"].pk]))
    assert 'id="panel-reconcile"' not in html
    assert reverse("billing-statement-reconcile", args=[world["statement"].pk]) not in html
    assert latest.status_code == 404


def test_what_a_credit_paid_in_french(client, paid_world, importer, settings, tmp_path):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from tests.i18n.conftest import install_fragment

    install_fragment(settings, tmp_path)
    prev = paid_world["cads"]["prev_by_us"].transaction_number
    login(client, paid_world["broker"].bam, importer)
    client.cookies["django_language"] = "fr"
    url = reverse("billing-statement-reconcile", args=[paid_world["statement"].pk])
    with on(TODAY):
        html = client.post(url, {"source": "file", "file": SimpleUploadedFile("l.csv", the_list(paid_world))}
                           ).content.decode()
        dashboard = client.get(reverse("dashboard")).content.decode()
    assert f"a payé DDC {prev} 600,00\xa0$ le 2026-03-12" in html
    assert "Dettes payées par ce crédit" in html
    assert f"Rapprocher le relevé du {PERIOD:%Y-%m-%d}" in dashboard


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_real_pdf_worker_renders_the_saved_reconciliation(client, importer, other_importer, broker, settings,
                                                           tmp_path):
    """PostgreSQL + Redis: the web process only asks (202); the pdf worker renders the saved one."""
    import time

    from django.core.files.uploadedfile import SimpleUploadedFile

    from billing import pdf_tasks
    from billing.models import SavedReconciliation
    from tests.celery_worker import real_worker

    settings.CELERY_TASK_ALWAYS_EAGER = False
    world = build_world(importer, other_importer, broker)
    statement = world["statement"]
    login(client, broker.bam, importer)
    env = {"DJANGO_SETTINGS_MODULE": "tests.billing.pdf_worker_settings",
           "PRIVATE_STORAGE_ROOT": str(settings.PRIVATE_STORAGE_ROOT)}
    with real_worker("pdf", concurrency=1, extra_env=env), on(TODAY):
        response = client.post(reverse("billing-statement-reconcile", args=[statement.pk]), {
            "source": "file", "export": "pdf", "file": SimpleUploadedFile("l.csv", the_list(world))})
        assert response.status_code == 302
        response = client.get(response["Location"])
        assert response.status_code == 202 and response["Retry-After"]
        saved = SavedReconciliation.objects.get(statement=statement)
        deadline = time.monotonic() + 60
        while pdf_tasks.reconciliation_pdf(saved, render=False) is None:
            assert time.monotonic() < deadline, "the pdf worker did not render the reconciliation"
            time.sleep(0.3)
        response = client.get(reverse("billing-reconciliation-pdf", args=[saved.pk]))
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert b"".join(response.streaming_content).startswith(b"%PDF-")


def test_safe_cell_quotes_formulas_and_keeps_plain_numbers():
    from decimal import Decimal

    from carm_portal.csv_export import safe_cell

    assert [safe_cell(v) for v in ("=1+1", "+33 1", "@SUM(A1)", "-x", "\tcmd", "-500.00", Decimal("-5.00"), -3, None,
                                   "Acme")] == ["'=1+1", "'+33 1", "'@SUM(A1)", "'-x", "'\tcmd", "-500.00", "-5.00", "-3",
                                                "", "Acme"]
