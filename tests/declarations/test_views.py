"""CAD pages: list (filters, pagination, constant queries), detail, draft form with live totals,
submit, correct/adjust, withdraw, CSV upload, and the 404 gate for brokers without CAD scopes."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from billing.ledger.models import LedgerEntry
from carm_portal.models import IdempotentRequest
from declarations import services
from declarations.models import CAD, CADLine, CADVersion
from tests import factories

from .conftest import FILED_ON, accepted_cad, file_cad, header, line

pytestmark = pytest.mark.django_db


def login(client, user):
    client.force_login(user)
    return client


def recent_header(days_ago=2, **overrides):
    """A CAD released a few days ago, in Canadian dollars (no exchange rate needed)."""
    release = timezone.localdate() - timedelta(days=days_ago)
    return header(release_date=release, direct_shipment_date=release, invoice_currency="CAD", **overrides)


def recent_line(**overrides):
    return line(currency="CAD", **overrides)


def form_data(account, lines, **head):
    data = {
        "program_account": str(account.pk), "cad_type": "regular", "transport_mode": "highway",
        "release_date": "2025-11-03", "direct_shipment_date": "2025-11-01", "office_code": "0497",
        "invoice_currency": "USD", "vendor_name": "Acme Corp", "invoice_number": "INV-1",
        "lines-TOTAL_FORMS": str(len(lines)), "lines-INITIAL_FORMS": "0",
        "lines-MIN_NUM_FORMS": "1", "lines-MAX_NUM_FORMS": "999",
    }
    data.update(head)
    for i, values in enumerate(lines):
        for key, value in values.items():
            data[f"lines-{i}-{key}"] = value
    return data


FACE_CREAM = {"description": "Face cream", "classification": "3304.99.00.00", "treatment": "MFN",
              "origin_country": "CN", "quantity": "100", "value_foreign": "10000.00"}
T_SHIRTS = {"description": "T-shirts", "classification": "6109100011", "treatment": "MFN",
            "origin_country": "CN", "quantity": "50", "value_foreign": "1000.00"}


# --- List ------------------------------------------------------------------------------------------

def test_list_shows_the_acting_importers_cads_with_filters(client, importer, account, other_importer, tariff):
    user = importer.bam
    a = file_cad(user, account, office_code="0497")
    b = file_cad(user, account, office_code="0809", release_date=FILED_ON - timedelta(days=1))
    draft = services.cad_create_draft(actor=user, program_account=account, lines=[line()], today=FILED_ON,
                                      **header())
    other = other_importer.program_accounts.get()
    hidden = file_cad(other_importer.bam, other)
    login(client, user)
    page = client.get(reverse("cad_list")).content.decode()
    for cad in (a, b, draft):
        assert cad.transaction_number in page
    assert hidden.transaction_number not in page
    assert 'href="/declarations/"' in page and "Declarations" in page  # the nav link

    def numbers(**params):
        html = client.get(reverse("cad_list"), params).content.decode()
        return {c.transaction_number for c in (a, b, draft) if c.transaction_number in html}

    assert numbers(office="0809") == {b.transaction_number}
    assert numbers(status="draft") == {draft.transaction_number}
    assert numbers(q=a.transaction_number) == {a.transaction_number}
    assert numbers(q=a.transaction_number[:9]) >= {a.transaction_number}
    assert numbers(released_from="2025-11-03", released_to="2025-11-03") == {a.transaction_number,
                                                                               draft.transaction_number}
    assert numbers(late="1") == {draft.transaction_number}  # a draft released in 2025 is long overdue
    assert numbers(cad_type="courier_lvs") == set()
    assert client.get(reverse("cad_list"), {"office": "abc"}).status_code == 200  # a bad filter is ignored


def test_list_paginates_in_constant_queries(client, importer, account, tariff):
    user = importer.bam
    login(client, user)

    def make(n):
        for _ in range(n):
            services.cad_create_draft(actor=user, program_account=account, lines=[line()], today=FILED_ON,
                                      **header())

    make(2)
    client.get(reverse("cad_list"))  # warm up the session and caches
    with CaptureQueriesContext(connection) as small:
        assert client.get(reverse("cad_list")).status_code == 200
    make(28)
    with CaptureQueriesContext(connection) as big:
        response = client.get(reverse("cad_list"))
    assert len(big) == len(small), [q["sql"] for q in big.captured_queries]
    assert response.context["page"].paginator.count == 30
    assert len(response.context["page"].object_list) == 25
    assert "Page 1 of 2" in response.content.decode()
    assert len(client.get(reverse("cad_list"), {"page": 2}).context["page"].object_list) == 5


# --- Detail ----------------------------------------------------------------------------------------

def test_detail_shows_lines_totals_versions_and_the_ledger_effect(client, importer, account, tariff, cbsa):
    user = importer.bam
    cad = accepted_cad(user, account, cbsa, lines=[line(), line(description="More cream", value_foreign="500.00")])
    login(client, user)
    html = client.get(reverse("cad_detail", args=[cad.pk])).content.decode()
    assert cad.transaction_number in html
    assert "$13,650.00" in html and "$887.25" in html and "$726.86" in html  # the worked example's VFD, duty, GST
    assert str(cad.dt_total) in html
    assert "Original" in html and "v1" in html
    assert f'data-ledger-effect="{cad.dt_total}"' in html
    assert cad.due_date.isoformat() in html
    # Past the payment due date (2025-12-01): the action is an adjustment.
    assert "File an adjustment" in html and "Withdraw" in html


def test_another_importers_cad_is_404(client, importer, other_importer, account, tariff):
    cad = file_cad(importer.bam, account)
    login(client, other_importer.bam)
    for name in ("cad_detail", "cad_edit", "cad_amend", "cad_withdraw"):
        assert client.get(reverse(name, args=[cad.pk])).status_code == 404, name
    assert client.post(reverse("cad_submit", args=[cad.pk])).status_code == 404


# --- Create / edit ---------------------------------------------------------------------------------

def test_create_a_draft_then_file_it(client, importer, account, tariff):
    login(client, importer.bam)
    page = client.get(reverse("cad_create"))
    assert page.status_code == 200 and b"cad_form.js" in page.content
    response = client.post(reverse("cad_create"), form_data(account, [FACE_CREAM, T_SHIRTS], action="draft"))
    cad = CAD.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("cad_detail", args=[cad.pk])
    assert cad.status == CAD.Status.DRAFT and cad.lines.count() == 2
    assert cad.duty_total == Decimal("887.25") + Decimal("245.70")  # 6.5 % of 13,650.00 + 18 % of 1,365.00

    edit = client.get(reverse("cad_edit", args=[cad.pk]))
    assert edit.status_code == 200
    assert edit.context["formset"].initial[1]["classification"] == "6109100011"
    data = form_data(account, [FACE_CREAM], action="file", **{"lines-INITIAL_FORMS": "0"})
    response = client.post(reverse("cad_edit", args=[cad.pk]), data)
    assert response.status_code == 302
    cad.refresh_from_db()
    assert cad.status == CAD.Status.SUBMITTED and cad.lines.count() == 1


def test_bad_input_shows_field_errors_and_stores_nothing(client, importer, account, tariff):
    login(client, importer.bam)
    bad = {**FACE_CREAM, "classification": "9999999999"}
    response = client.post(reverse("cad_create"), form_data(account, [T_SHIRTS, bad], action="draft"))
    assert response.status_code == 200
    formset = response.context["formset"]
    assert "Unknown classification 9999999999." in formset.forms[1].errors["classification"]
    assert not formset.forms[0].errors
    assert CAD.objects.count() == 0 and IdempotentRequest.objects.count() == 0
    # What was typed is still there.
    assert 'value="9999999999"' in response.content.decode()

    # Filing checks every rule: a future release date, a negative value.
    future = (timezone.localdate() + timedelta(days=3)).isoformat()
    response = client.post(reverse("cad_create"), form_data(
        account, [{**FACE_CREAM, "value_foreign": "-5.00"}], action="file", release_date=future))
    assert response.status_code == 200
    assert response.context["header_form"].errors["release_date"] == ["The release date cannot be in the future."]
    assert response.context["formset"].forms[0].errors["value_foreign"] == ["The value cannot be negative."]
    assert CAD.objects.count() == 0 and CADLine.objects.count() == 0


def test_add_line_without_javascript_keeps_the_input(client, importer, account, tariff):
    login(client, importer.bam)
    response = client.post(reverse("cad_create"), form_data(account, [FACE_CREAM], add_line="1"))
    assert response.status_code == 200
    assert len(response.context["formset"].forms) == 2
    assert 'value="3304.99.00.00"' in response.content.decode()
    assert CAD.objects.count() == 0


def test_the_same_form_posted_twice_files_one_cad(client, importer, account, tariff):
    login(client, importer.bam)
    data = form_data(account, [FACE_CREAM], action="file", idempotency_key="form-key-1")
    first = client.post(reverse("cad_create"), data)
    second = client.post(reverse("cad_create"), data)
    assert first["Location"] == second["Location"]
    assert CAD.objects.count() == 1


def test_live_totals(client, importer, account, tariff):
    login(client, importer.bam)
    data = form_data(account, [FACE_CREAM, {**T_SHIRTS, "classification": "12"}])
    body = client.post(reverse("cad_calculate"), data).json()
    assert body["totals"]["duty"] == "887.25" and body["totals"]["gst"] == "726.86"
    assert body["lines"]["lines-0"]["duties_and_taxes"] == "1614.11"
    assert body["lines"]["lines-0"]["duty_rate"] == "6.5"
    assert "lines-1-classification" in body["errors"]
    assert body["ok"] is False
    good = client.post(reverse("cad_calculate"), form_data(account, [FACE_CREAM])).json()
    assert good["ok"] is True, good["errors"]
    assert CAD.objects.count() == 0


def test_submit_from_the_detail_page(client, importer, account, tariff):
    draft = services.cad_create_draft(actor=importer.bam, program_account=account, lines=[line()],
                                      today=FILED_ON, **header())
    login(client, importer.bam)
    response = client.post(reverse("cad_submit", args=[draft.pk]))
    assert response.status_code == 302
    draft.refresh_from_db()
    assert draft.status == CAD.Status.SUBMITTED


def test_submit_shows_what_is_wrong(client, importer, account, tariff):
    draft = services.cad_create_draft(actor=importer.bam, program_account=account,
                                      lines=[line(value_foreign="-1.00")], today=FILED_ON, **header())
    login(client, importer.bam)
    response = client.post(reverse("cad_submit", args=[draft.pk]), follow=True)
    assert "The value cannot be negative." in response.content.decode()
    draft.refresh_from_db()
    assert draft.status == CAD.Status.DRAFT


# --- Correct / adjust, withdraw --------------------------------------------------------------------

def test_a_correction_that_lowers_the_duty_posts_a_credit(client, importer, account, tariff, settings):
    settings.CARM = {**settings.CARM, "CAD_AUTO_ACCEPT": True}
    user = importer.bam
    cad = services.cad_file(actor=user, program_account=account, lines=[recent_line(), recent_line()],
                            **recent_header())
    assert cad.status == CAD.Status.ACCEPTED
    login(client, user)
    page = client.get(reverse("cad_amend", args=[cad.pk]))
    assert page.status_code == 200 and b'data-amend-kind="correction"' in page.content
    lower = {**FACE_CREAM, "value_foreign": "8000.00"}
    data = form_data(account, [lower, FACE_CREAM], reason_code_1="R2-74-1-E.VFD", **{"lines-INITIAL_FORMS": "2"})
    response = client.post(reverse("cad_amend", args=[cad.pk]), data)
    assert response.status_code == 302, response.context and response.context["form"].errors
    version = CADVersion.objects.get(cad=cad, number=2)
    assert version.kind == CADVersion.Kind.CORRECTION and version.legal_basis == "s74"
    assert version.ledger_entry.amount < 0
    html = client.get(reverse("cad_detail", args=[cad.pk])).content.decode()
    assert f'data-ledger-effect="{version.ledger_entry.amount}"' in html and "credit" in html


def test_amend_errors_stay_on_the_page(client, importer, account, tariff, settings):
    settings.CARM = {**settings.CARM, "CAD_AUTO_ACCEPT": True}
    cad = services.cad_file(actor=importer.bam, program_account=account, lines=[recent_line()],
                            **recent_header())
    login(client, importer.bam)
    # Same lines: nothing changed.
    data = form_data(account, [FACE_CREAM], reason_code_1="R3-32-2.VFD")
    response = client.post(reverse("cad_amend", args=[cad.pk]), data)
    assert response.status_code == 200
    assert "Nothing changed" in response.content.decode()
    assert CADVersion.objects.filter(cad=cad).count() == 1


def test_adjustment_after_the_payment_due_date(client, importer, account, tariff, cbsa):
    cad = accepted_cad(importer.bam, account, cbsa)
    login(client, importer.bam)
    page = client.get(reverse("cad_amend", args=[cad.pk]))
    assert b'data-amend-kind="adjustment"' in page.content
    data = form_data(account, [{**FACE_CREAM, "value_foreign": "9000.00"}], reason_code_1="R2-74-1-E.VFD")
    assert client.post(reverse("cad_amend", args=[cad.pk]), data).status_code == 302
    version = CADVersion.objects.get(cad=cad, number=2)
    assert version.status == CADVersion.Status.PENDING_REVIEW and version.ledger_entry is None


def test_withdraw_with_confirmation(client, importer, account, tariff, cbsa):
    cad = accepted_cad(importer.bam, account, cbsa)
    login(client, importer.bam)
    page = client.get(reverse("cad_withdraw", args=[cad.pk]))
    assert page.status_code == 200 and str(cad.dt_total).encode() in page.content
    assert client.post(reverse("cad_withdraw", args=[cad.pk]), {"reason": ""}).status_code == 200  # reason required
    assert client.post(reverse("cad_withdraw", args=[cad.pk]), {"reason": "Duplicate"}).status_code == 302
    cad.refresh_from_db()
    assert cad.status == CAD.Status.WITHDRAWN
    assert LedgerEntry.objects.filter(kind=LedgerEntry.Kind.CAD_WITHDRAWAL, amount=-cad.versions.get(number=1).dt_total).exists()


# --- CSV upload ------------------------------------------------------------------------------------

CSV_COLUMNS = ("cad_ref,release_date,direct_shipment_date,office_code,invoice_currency,description,classification,"
               "treatment,origin_country,quantity,value_foreign\n")


def csv_rows(n_cads, lines_per_cad=2, classification="3304.99.00.00"):
    rows = []
    for c in range(n_cads):
        for _ in range(lines_per_cad):
            rows.append(f"C{c},2025-11-03,2025-11-01,0497,USD,Face cream,{classification},MFN,CN,100,100.00\n")
    return CSV_COLUMNS + "".join(rows)


def upload(client, account, text, name="cads.csv"):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return client.post(reverse("cad_upload"), {"program_account": account.pk,
                                               "file": SimpleUploadedFile(name, text.encode(), "text/csv")},
                       follow=True)


def test_upload_a_good_file(client, importer, account, tariff):
    login(client, importer.bam)
    assert client.get(reverse("cad_upload")).status_code == 200
    response = upload(client, account, csv_rows(3))
    html = response.content.decode()
    assert "Imported 3 CADs with 6 lines." in html
    cad = CAD.objects.first()
    assert reverse("cad_detail", args=[cad.pk]) in html


def test_upload_with_errors_lists_every_error_and_imports_nothing(client, importer, account, tariff):
    login(client, importer.bam)
    text = csv_rows(2) + "C9,2025-11-03,2025-11-01,04x7,USD,Face cream,1234,MFN,CN,100,-1\n"
    html = upload(client, account, text).content.decode()
    assert "Nothing was imported" in html
    assert "A CBSA office code has 4 digits." in html and "A classification has 10 digits" in html
    assert "<td>6</td>" in html  # the row number, counting the header as row 1
    assert CAD.objects.count() == 0


def test_big_upload_runs_as_a_task_with_progress(client, importer, account, tariff, settings,
                                                 django_capture_on_commit_callbacks):
    settings.CARM = {**settings.CARM, "CAD_UPLOAD_ASYNC_LINES": 10}
    login(client, importer.bam)
    with django_capture_on_commit_callbacks(execute=True):  # the outbox sends the task after the commit
        response = upload(client, account, csv_rows(10, 3))
    status_url = response.redirect_chain[-1][0]
    upload_id = status_url.rstrip("/").split("/")[-1]
    assert "Imported 10 CADs with 30 lines." in client.get(status_url).content.decode()  # once the task ran
    progress = client.get(reverse("cad_upload_progress", args=[upload_id])).json()
    assert progress == {"state": "done", "done": 30, "total": 30, "errors": 0, "cads": 10, "finished": True}
    # Somebody else's upload id is not found.
    login(client, factories.make_user())
    assert client.get(reverse("cad_upload_status", args=[upload_id])).status_code == 404


# --- Brokers ---------------------------------------------------------------------------------------

def test_a_broker_files_for_the_importer_it_acts_for(client, importer, account, broker, tariff):
    factories.make_delegation(importer, broker, accounts=[account])
    login(client, broker.bam)
    assert client.get(reverse("cad_list")).status_code == 200
    response = client.post(reverse("cad_create"), form_data(account, [FACE_CREAM], action="file"))
    assert response.status_code == 302
    cad = CAD.objects.get()
    assert cad.broker == broker and cad.transaction_number.startswith(
        services.transaction_numbers.account_security_prefix(broker.bn9))


def test_a_broker_without_the_cad_scopes_gets_404_everywhere(client, importer, account, broker, tariff, cbsa):
    factories.make_delegation(importer, broker, cad_submit=False, adjust=False)
    accepted = accepted_cad(importer.bam, account, cbsa)
    draft = services.cad_create_draft(actor=importer.bam, program_account=account, lines=[line()],
                                      today=FILED_ON, **header())
    login(client, broker.bam)
    assert client.get(reverse("dashboard")).status_code == 200  # the delegation itself works
    gets = [reverse("cad_list"), reverse("cad_create"), reverse("cad_upload")]
    for cad in (accepted, draft):
        gets += [reverse(name, args=[cad.pk]) for name in ("cad_detail", "cad_edit", "cad_amend", "cad_withdraw")]
    for url in gets:
        assert client.get(url).status_code == 404, url
    posts = [reverse("cad_create"), reverse("cad_upload"), reverse("cad_calculate"),
             reverse("cad_submit", args=[draft.pk]), reverse("cad_amend", args=[accepted.pk]),
             reverse("cad_withdraw", args=[accepted.pk]), reverse("cad_edit", args=[draft.pk])]
    for url in posts:
        assert client.post(url, {"cad": accepted.pk}).status_code == 404, url
    assert client.post(reverse("cad_calculate"), {}).status_code == 404
    assert client.get(reverse("cad_upload_status", args=["nope"])).status_code == 404
    assert client.get(reverse("cad_upload_progress", args=["nope"])).status_code == 404
    draft.refresh_from_db()
    assert draft.status == CAD.Status.DRAFT


def test_a_broker_with_submit_but_not_adjust_cannot_correct(client, importer, account, broker, tariff, cbsa):
    factories.make_delegation(importer, broker, adjust=False)
    cad = accepted_cad(importer.bam, account, cbsa)
    login(client, broker.bam)
    html = client.get(reverse("cad_detail", args=[cad.pk])).content.decode()
    assert "File an adjustment" not in html and "Withdraw" not in html
    assert client.get(reverse("cad_amend", args=[cad.pk])).status_code == 404


def test_a_10000_line_file_imports_in_one_go_through_the_page(client, importer, account, tariff,
                                                              django_capture_on_commit_callbacks):
    login(client, importer.bam)
    with django_capture_on_commit_callbacks(execute=True):  # the outbox sends the task after the commit
        response = upload(client, account, csv_rows(2000, 5))  # 10,000 lines: a task (eager here) with progress
    response = client.get(response.redirect_chain[-1][0])
    assert "Imported 2000 CADs with 10000 lines." in response.content.decode()
    assert CADLine.objects.count() == 10_000


def test_demo_seed_gives_a_year_of_history_once(db):
    import io

    from accounts import demo as accounts_demo
    from declarations import demo

    ctx = accounts_demo.seed("demo-pass")
    demo.seed(ctx, io.StringIO())
    account = ctx.importer.program_accounts.get(number__endswith="RM0001")
    cads = CAD.objects.filter(program_account=account)
    count = cads.count()
    months = {(d.year, d.month) for d in cads.values_list("release_date", flat=True)}
    assert len(months) >= 12 and 12 * 15 <= count <= 12 * 45
    assert cads.filter(broker=ctx.broker, filed_by=ctx.broker_user).count() == count
    assert LedgerEntry.objects.filter(program_account=account).count() >= count * 0.9
    soon = cads.filter(invoice_number__startswith="DEMO-DUE", status=CAD.Status.DRAFT)
    assert soon.count() == 2 and all(c.due_date >= timezone.localdate() for c in soon)
    demo.seed(ctx, io.StringIO())  # idempotent: no second year
    assert cads.count() == count
