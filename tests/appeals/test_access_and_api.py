"""The gate (404 outside), pages, the API (constant query counts), the staff queue."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.roles import Role
from appeals import services
from appeals.models import Appeal
from tests import factories
from tests.appeals.conftest import make_penalty, make_statement, walk_to_assigned
from tests.clock import on

PDF = b"%PDF-1.4\n%%EOF\n"


@pytest.fixture
def recent_penalty(cbsa, account):
    today = timezone.localdate()
    return make_penalty(cbsa, account, served_on=today - timedelta(days=10), today=today)


@pytest.fixture
def appeal(recent_penalty, importer):
    appeal = services.appeal_create(actor=importer.bam, penalty=recent_penalty, grounds="g")
    services.document_add(actor=importer.bam, appeal=appeal, uploaded=SimpleUploadedFile("a.pdf", PDF))
    return appeal


def _urls(appeal):
    doc = appeal.documents.get()
    return [f"/appeals/{appeal.pk}/", f"/appeals/documents/{doc.pk}/", f"/appeals/penalties/{appeal.penalty_id}/",
            f"/api/v1/appeals/{appeal.pk}/", f"/api/v1/penalties/{appeal.penalty_id}/"]


def test_the_importer_sees_its_appeal(client, appeal, importer):
    client.force_login(importer.bam)
    for url in _urls(appeal):
        assert client.get(url).status_code == 200, url
    page = client.get("/appeals/").content.decode()
    assert f"#{appeal.pk}" in page and "days left" in page


def test_another_importer_gets_404_everywhere(client, appeal, other_importer):
    client.force_login(other_importer.bam)
    for url in _urls(appeal):
        assert client.get(url).status_code == 404, url
    for url in (f"/appeals/{appeal.pk}/submit/", f"/appeals/{appeal.pk}/withdraw/",
                f"/api/v1/appeals/{appeal.pk}/submit/", f"/api/v1/appeals/{appeal.pk}/withdraw/"):
        assert client.post(url).status_code == 404, url
    assert client.get("/api/v1/appeals/").json()["count"] == 0
    assert f"#{appeal.pk}" not in client.get("/appeals/").content.decode()
    assert Appeal.objects.get(pk=appeal.pk).status == "draft"


def test_brokers_need_the_appeals_delegation_scope(client, appeal, importer, broker, account):
    client.force_login(broker.bam)
    assert client.get(f"/appeals/{appeal.pk}/").status_code == 404
    delegation = factories.make_delegation(importer, broker, accounts=[account], appeals=False)
    assert client.get(f"/appeals/{appeal.pk}/").status_code == 404
    delegation.scope_appeals = True
    delegation.save()
    assert client.get(f"/appeals/{appeal.pk}/").status_code == 200
    response = client.post(f"/api/v1/appeals/{appeal.pk}/submit/", {}, content_type="application/json")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "submitted"


def test_a_reader_sees_but_cannot_file(client, appeal, importer):
    reader = factories.add_member(importer, role=Role.READER)
    client.force_login(reader)
    assert client.get(f"/appeals/{appeal.pk}/").status_code == 200
    assert client.post(f"/api/v1/appeals/{appeal.pk}/submit/").status_code == 404
    assert client.post(f"/appeals/{appeal.pk}/submit/").status_code == 404
    assert Appeal.objects.get(pk=appeal.pk).status == "draft"


def test_staff_pages_and_endpoints_are_404_for_others(client, appeal, importer):
    client.force_login(importer.bam)
    assert client.get("/appeals/review/").status_code == 404
    assert client.post(f"/appeals/review/{appeal.pk}/", {"action": "acknowledge"}).status_code == 404
    assert client.post(f"/api/v1/appeals/{appeal.pk}/acknowledge/").status_code == 404
    assert client.post("/api/v1/penalties/", {}).status_code == 404


def test_letter_is_served_through_the_gate_only(client, appeal, importer, other_importer, cbsa):
    from appeals.tasks import render_decision_letter

    services.appeal_submit(actor=importer.bam, appeal=appeal)
    walk_to_assigned(cbsa, appeal)
    services.appeal_decide(actor=cbsa, appeal=appeal, outcome="allowed", reasons="Cancelled.")
    render_decision_letter(appeal.pk)
    client.force_login(importer.bam)
    response = client.get(f"/appeals/{appeal.pk}/letter/")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert b"".join(response.streaming_content).startswith(b"%PDF-")
    client.force_login(other_importer.bam)
    assert client.get(f"/appeals/{appeal.pk}/letter/").status_code == 404


@on("2026-03-10")  # 85 days after it is a Wednesday: the filing deadline does not roll
def test_the_whole_flow_over_the_api(client, cbsa, account, importer):
    today = timezone.localdate()
    statement = make_statement(cbsa, account, decision_date=today - timedelta(days=5), change="400.00", today=today)
    client.force_login(importer.bam)
    created = client.post("/api/v1/appeals/", {"statements": [statement.pk], "issue": "classification",
                                               "grounds": "Heading 61.09."}, content_type="application/json")
    assert created.status_code == 201, created.content
    pk = created.json()["id"]
    assert created.json()["deadlines"][0]["days_left"] == 85
    refused = client.post(f"/api/v1/appeals/{pk}/submit/", {}, content_type="application/json")
    assert refused.status_code == 400 and "paid or secured" in refused.json()["detail"]
    services.statement_record_secured(actor=cbsa, statement=statement)
    upload = client.post(f"/api/v1/appeals/{pk}/documents/", {"file": SimpleUploadedFile("ruling.pdf", PDF)})
    assert upload.status_code == 201 and upload.json()["content_type"] == "application/pdf"
    assert client.post(f"/api/v1/appeals/{pk}/submit/", {}, content_type="application/json").json()["status"] == (
        "submitted")

    client.force_login(cbsa)
    assert client.post(f"/api/v1/appeals/{pk}/acknowledge/", {}, content_type="application/json").status_code == 200
    assert client.post(f"/api/v1/appeals/{pk}/assign/", {"officer": cbsa.pk},
                       content_type="application/json").json()["status"] == "assigned"
    decided = client.post(f"/api/v1/appeals/{pk}/decide/", {"outcome": "partial", "reasons": "In part.",
                                                           "amount": "150.00"}, content_type="application/json")
    assert decided.status_code == 200, decided.content
    body = decided.json()
    assert (body["status"], body["outcome"], body["decision_amount"]) == ("decision_rendered", "partial", "150.00")
    assert [t["to_status"] for t in body["transitions"]] == [
        "draft", "submitted", "acknowledged", "assigned", "decision_rendered"]
    assert body["deadlines"][0]["key"] == "citt"
    assert Appeal.objects.get(pk=pk).credit_entry.amount == Decimal("-150.00")


@on("2026-03-10")  # 90 days after it is a Monday: the filing deadline does not roll
def test_penalty_and_statement_endpoints(client, cbsa, account, importer, other_importer):
    client.force_login(cbsa)
    created = client.post("/api/v1/penalties/", {"program_account": account.pk, "npa_number": "npa-9",
                                                 "contravention_code": "c336", "amount": "200.00",
                                                 "served_on": str(timezone.localdate())},
                          content_type="application/json")
    assert created.status_code == 201, created.content
    assert created.json()["npa_number"] == "NPA-9" and created.json()["days_left"] == 90
    make_statement(cbsa, account)
    client.force_login(importer.bam)
    assert client.get("/api/v1/penalties/").json()["count"] == 1
    assert client.get("/api/v1/statements-of-adjustment/").json()["count"] == 1
    client.force_login(other_importer.bam)
    assert client.get("/api/v1/penalties/").json()["count"] == 0
    assert client.get("/api/v1/statements-of-adjustment/").json()["count"] == 0


def _list_queries(client, url):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries)


def test_lists_run_a_constant_number_of_queries(client, cbsa, account, importer):
    client.force_login(importer.bam)
    today = timezone.localdate()

    def add(n):
        for _ in range(n):
            penalty = make_penalty(cbsa, account, served_on=today - timedelta(days=3), today=today)
            services.appeal_create(actor=importer.bam, penalty=penalty, grounds="g")
            statement = make_statement(cbsa, account, decision_date=today - timedelta(days=3), today=today)
            services.appeal_create(actor=importer.bam, statements=[statement], issue="origin")

    add(1)
    _list_queries(client, "/api/v1/appeals/")  # warm the holiday-override cache
    counts = {url: _list_queries(client, url) for url in
              ("/api/v1/appeals/", "/api/v1/penalties/", "/api/v1/statements-of-adjustment/", "/appeals/")}
    add(4)
    assert Appeal.objects.count() == 10
    for url, count in counts.items():
        assert _list_queries(client, url) == count, url


def test_staff_review_queue_lists_filed_appeals(client, cbsa, appeal, importer):
    services.appeal_submit(actor=importer.bam, appeal=appeal)
    client.force_login(cbsa)
    page = client.get("/appeals/review/").content.decode()
    assert f"#{appeal.pk}" in page and importer.legal_name in page
    detail = client.get(f"/appeals/{appeal.pk}/").content.decode()
    assert "CBSA review" in detail and 'value="acknowledge"' in detail
    response = client.post(f"/appeals/review/{appeal.pk}/", {"action": "acknowledge"})
    assert response.status_code == 302
    assert Appeal.objects.get(pk=appeal.pk).status == "acknowledged"


def test_new_appeal_page_from_a_cad_and_from_a_penalty(client, cbsa, account, importer):
    today = timezone.localdate()
    statement = make_statement(cbsa, account, decision_date=today - timedelta(days=1), today=today)
    client.force_login(importer.bam)
    page = client.get(f"/appeals/new/?cad={statement.cad_id}")
    assert page.status_code == 200 and statement.number in page.content.decode()
    response = client.post(f"/appeals/new/?cad={statement.cad_id}",
                           {"statements": [statement.pk], "issue": "valuation", "grounds": "VFD is wrong."})
    assert response.status_code == 302
    appeal = Appeal.objects.get(statements=statement)
    assert (appeal.kind, appeal.issue, appeal.status) == ("s60", "valuation", "draft")

    penalty = make_penalty(cbsa, account, served_on=today, today=today)
    response = client.post(f"/appeals/new/?penalty={penalty.pk}", {"grounds": "Due diligence."})
    assert response.status_code == 302
    assert Appeal.objects.get(penalty=penalty).grounds == "Due diligence."
    # The NPA page now links to its one appeal.
    assert client.get(f"/appeals/new/?penalty={penalty.pk}").status_code == 302


def test_new_appeal_links_stay_inside_the_gate(client, other_importer, appeal):
    client.force_login(other_importer.bam)
    assert client.get(f"/appeals/new/?penalty={appeal.penalty_id}").status_code == 404
    assert client.get("/appeals/new/?statement=999999").status_code == 404
    assert client.get("/appeals/new/").status_code == 404


def test_filters_only_narrow_and_never_tell_what_exists(client, appeal, importer, other_importer, account):
    client.force_login(importer.bam)
    assert client.get(f"/api/v1/appeals/?program_account={account.pk}&status=draft").json()["count"] == 1
    assert client.get("/api/v1/appeals/?status=submitted").json()["count"] == 0
    foreign = other_importer.program_accounts.get()
    for url in (f"/api/v1/appeals/?program_account={foreign.pk}", "/api/v1/appeals/?program_account=999999",
                f"/api/v1/penalties/?program_account={foreign.pk}",
                f"/api/v1/statements-of-adjustment/?program_account={foreign.pk}"):
        response = client.get(url)
        assert (response.status_code, response.json()["count"]) == (200, 0), url


def test_review_queue_pages_instead_of_stopping(client, cbsa, account, importer, monkeypatch):
    """More filed appeals than a page holds: every one is reachable (page 2), none silently dropped,
    and a page costs the same number of queries whatever the number of appeals."""
    from appeals import views

    monkeypatch.setattr(views, "PAGE_SIZE", 3)
    today = timezone.localdate()
    filed = []
    for _ in range(4):
        penalty = make_penalty(cbsa, account, served_on=today - timedelta(days=10), today=today)
        appeal = services.appeal_create(actor=importer.bam, penalty=penalty, grounds="g")
        services.appeal_submit(actor=importer.bam, appeal=appeal)
        filed.append(appeal)
    client.force_login(cbsa)
    first = client.get("/appeals/review/").content.decode()
    second = client.get("/appeals/review/?page=2").content.decode()
    shown = [a for a in filed if f"#{a.pk} " in first or f"#{a.pk} " in second]
    assert len(shown) == 4 and "Page 1 of 2" in first
    with CaptureQueriesContext(connection) as one:
        client.get("/appeals/review/?page=2")
    with CaptureQueriesContext(connection) as full:
        client.get("/appeals/review/")
    assert len(one) == len(full)
