"""Bulk delegation requests: CSV / pasted list, preview (nothing written), all-or-nothing submit,
limits, the API twin (dry run, 400 per row, Idempotency-Key), who may use it, query counts."""

from __future__ import annotations

import re
from datetime import date

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from accounts.models import AuditEvent, Delegation
from brokers import bulk
from tests import factories

pytestmark = pytest.mark.django_db
PAGE = "/brokers/delegations/bulk/"
API = "/api/v1/delegations/bulk-request/"
UNKNOWN_BN = factories.make_bn9(87654321)  # valid check digit, never registered


@pytest.fixture
def fresh(world):
    """Two importers the broker does not act for yet: ``new1`` (2 RMs), ``new2`` (1 RM)."""
    new1 = factories.make_business(name="New One Imports", accounts=2)
    new2 = factories.make_business(name="New Two Imports", accounts=1)
    return {**world, "new1": new1, "new2": new2}


def _mixed_csv(w) -> bytes:
    new1, new2 = w["new1"], w["new2"]
    lines = [
        "bn,scopes,valid_to",                                   # 1 (header)
        f"{new1.bn9},,",                                        # 2 will request (the form's terms)
        f"{new2.bn9}RM0001,financial cad_submit,2026-06-30",   # 3 will request (RM: program coverage)
        f"{w['maple'].bn9},,",                                  # 4 already delegated
        f"{UNKNOWN_BN},,",                                      # 5 unknown BN
        "12345,,",                                              # 6 bad format
        f"{new1.bn9[:3]} {new1.bn9[3:6]} {new1.bn9[6:]},,",     # 7 duplicate of row 2 (spaces ignored)
        f"{new1.bn9}RM0002,,",                                  # 8 duplicate importer (row 2)
        f"{w['other'].bn9},appeals|nonsense,",                  # 9 bad format (unknown scope)
        f"{w['other'].bn9},,2020-01-01",                        # 10 bad format (date out of window)
    ]
    return ("\n".join(lines) + "\n").encode()


EXPECTED = {2: "request", 3: "request", 4: "already", 5: "unknown", 6: "bad_format", 7: "duplicate",
            8: "duplicate", 9: "bad_format", 10: "bad_format"}


def _outcomes(html: str) -> dict[int, str]:
    return {int(n): o for n, o in re.findall(r'data-row="(\d+)" data-outcome="(\w+)"', html)}


def _preview(client, w, data: bytes | None = None, **fields):
    body = {"action": "preview", "scopes": ["financial", "security"], "valid_from": "2025-11-26", **fields}
    if data is not None:
        body["file"] = SimpleUploadedFile("clients.csv", data, content_type="text/csv")
    return client.post(PAGE, body)


def _submit(client, preview):
    ctx = preview.context
    return client.post(PAGE, {"action": "submit", "firm": ctx["firm"].pk, "payload": ctx["payload"],
                              "idempotency_key": ctx["idempotency_key"]})


def test_preview_lists_each_rows_outcome_and_writes_nothing(client, fresh):
    client.force_login(fresh["broker"].bam)
    delegations, audits = Delegation.objects.count(), AuditEvent.objects.count()
    response = _preview(client, fresh, _mixed_csv(fresh))
    assert response.status_code == 200
    html = response.content.decode()
    assert _outcomes(html) == EXPECTED
    assert response.context["to_request"] == 2
    assert response.context["totals"] == {"request": 2, "already": 1, "unknown": 1, "bad_format": 3,
                                          "duplicate": 2, "failed": 0, "rolled_back": 0}
    assert "Row 2 already asks this importer." in html and "The same as row 2." in html
    assert (Delegation.objects.count(), AuditEvent.objects.count()) == (delegations, audits)


def test_submit_writes_every_valid_row_through_the_service_and_audits_each(client, fresh):
    bam = fresh["broker"].bam
    client.force_login(bam)
    preview = _preview(client, fresh, _mixed_csv(fresh), note="Bulk onboarding")
    before = Delegation.objects.count()
    response = _submit(client, preview)
    assert response.status_code == 200
    assert response.context["written"] is True
    assert _outcomes(response.content.decode()) == EXPECTED  # the same rows, now "Requested"
    assert Delegation.objects.count() == before + 2
    d1 = Delegation.objects.get(importer=fresh["new1"], broker=fresh["broker"])
    assert (d1.status, d1.coverage, d1.scopes, d1.valid_from, d1.valid_to, d1.note, d1.requested_by) == (
        Delegation.Status.REQUESTED, Delegation.Coverage.BUSINESS, ["financial", "security"], date(2025, 11, 26),
        None, "Bulk onboarding", bam)
    d2 = Delegation.objects.get(importer=fresh["new2"], broker=fresh["broker"])
    assert (d2.coverage, d2.scopes, d2.valid_to) == (Delegation.Coverage.PROGRAM, ["financial", "cad_submit"],
                                                     date(2026, 6, 30))
    assert [pa.number for pa in d2.program_accounts.all()] == [f"{fresh['new2'].bn9}RM0001"]
    audited = AuditEvent.objects.filter(action="accounts.delegation.requested", actor=bam)
    assert sorted(audited.values_list("target_id", "acting_for_id")) == sorted(
        [(str(d1.pk), fresh["new1"].pk), (str(d2.pk), fresh["new2"].pk)])
    assert "2 requests sent." in response.content.decode()

    # The same Submit again (a double click, a reload): the same answer, nothing twice.
    again = _submit(client, preview)
    assert again.status_code == 200 and Delegation.objects.count() == before + 2
    assert _outcomes(again.content.decode()) == EXPECTED


def test_a_row_that_became_invalid_after_the_preview_rolls_everything_back(client, fresh):
    client.force_login(fresh["broker"].bam)
    preview = _preview(client, fresh, _mixed_csv(fresh))
    # Between the preview and Submit, a colleague requests new2 by hand: row 3 can no longer be.
    colleague = factories.add_member(fresh["broker"])
    from accounts import services

    services.delegation_request(actor=colleague, broker=fresh["broker"], importer_bn9=fresh["new2"].bn9)
    before, audits = Delegation.objects.count(), AuditEvent.objects.count()
    response = _submit(client, preview)
    assert response.status_code == 409
    assert response.context["written"] is False and response.context["failed_row"] == 3
    outcomes = _outcomes(response.content.decode())
    assert outcomes[3] == "failed" and outcomes[2] == "rolled_back"
    assert "already an active or pending delegation" in response.content.decode()
    assert (Delegation.objects.count(), AuditEvent.objects.count()) == (before, audits)
    assert not Delegation.objects.filter(importer=fresh["new1"]).exists()


def test_pasted_list(client, fresh):
    client.force_login(fresh["broker"].bam)
    text = f"{fresh['new1'].bn9}, {fresh['new2'].bn9}RM0001\n{UNKNOWN_BN}\n"
    response = _preview(client, fresh, numbers=text)
    assert [(r["row"], r["outcome"]) for r in response.context["results"]] == [
        (1, "request"), (1, "request"), (2, "unknown")]


@pytest.mark.parametrize(("fields", "field", "message"), [
    ({}, "file", "Upload a CSV file or paste a list"),
    ({"numbers": "\n".join(["123456782"] * (bulk.MAX_ROWS + 1))}, "numbers", "Too many rows: at most 500"),
    ({"numbers": "1" * (bulk.MAX_BYTES + 1)}, "numbers", "The list is too large"),
    ({"numbers": " , \n"}, "numbers", "The list has no BN or RM number."),
    ({"data": b"\xff\xfe\x00bad"}, "file", "not UTF-8"),
    ({"data": b"x" * (bulk.MAX_BYTES + 1)}, "file", "The list is too large"),
    ({"data": b"name,scopes\nAcme,financial\n"}, "file", "The header has no BN or RM number column"),
    ({"data": b"123456782\n", "numbers": "123456782"}, "numbers", "not both"),
    ({"data": b"123456782\n", "valid_to": "2025-11-01"}, "valid_to", "before the start date"),
])
def test_bad_input_shows_field_errors_and_writes_nothing(client, fresh, fields, field, message):
    client.force_login(fresh["broker"].bam)
    before = Delegation.objects.count()
    fields = dict(fields)
    data = fields.pop("data", None)
    response = _preview(client, fresh, data, **fields)
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert any(message in e for e in errors.get(field, [])), errors
    assert Delegation.objects.count() == before


def test_a_tampered_or_stale_preview_is_refused(client, fresh):
    client.force_login(fresh["broker"].bam)
    response = client.post(PAGE, {"action": "submit", "payload": "forged"})
    assert response.status_code == 400 and "expired or was changed" in response.content.decode()


def test_only_the_firms_manager_may_use_it(client, fresh):
    for user in (fresh["clerk"], fresh["maple"].bam, factories.make_user()):
        client.force_login(user)
        assert client.get(PAGE).status_code == 404
        assert client.post(PAGE, {"numbers": fresh["new1"].bn9}).status_code == 404
    client.force_login(fresh["broker"].bam)
    page = client.get(PAGE)
    assert page.status_code == 200 and b'name="file"' in page.content
    assert client.get(PAGE, {"firm": "999999"}).status_code == 404  # not the user's firm


def test_links_from_the_board_and_the_delegations_page(client, fresh):
    client.force_login(fresh["broker"].bam)
    assert PAGE.encode() in client.get("/brokers/").content
    assert PAGE.encode() in client.get("/delegations/").content
    client.force_login(fresh["clerk"])
    assert PAGE.encode() not in client.get("/brokers/").content


def test_preview_queries_do_not_grow_with_rows(client, fresh):
    client.force_login(fresh["broker"].bam)
    importers = [factories.make_business(accounts=1) for _ in range(30)]

    def count(n: int) -> int:
        text = "\n".join(f"{b.bn9}RM0001" for b in importers[:n])
        with CaptureQueriesContext(connection) as ctx:
            response = _preview(client, fresh, numbers=text)
        assert response.status_code == 200 and response.context["to_request"] == n
        return len(ctx)

    assert count(3) == count(30)


# --- The API ---------------------------------------------------------------------------------------

def _api(user) -> APIClient:
    api = APIClient()
    api.force_authenticate(user=user)
    return api


def test_api_dry_run_writes_nothing(fresh):
    api = _api(fresh["broker"].bam)
    before = Delegation.objects.count()
    response = api.post(API, {"csv": _mixed_csv(fresh).decode(), "dry_run": True}, format="json")
    assert response.status_code == 200
    data = response.json()
    assert {r["row"]: r["outcome"] for r in data["results"]} == EXPECTED
    assert data["totals"]["request"] == 2 and data["written"] is False and data["dry_run"] is True
    assert Delegation.objects.count() == before


def test_api_any_bad_row_is_400_with_per_row_messages_and_nothing_written(fresh):
    api = _api(fresh["broker"].bam)
    before = Delegation.objects.count()
    response = api.post(API, {"rows": [{"number": fresh["new1"].bn9}, {"number": UNKNOWN_BN},
                                       {"number": "12"}]}, format="json")
    assert response.status_code == 400
    rows = response.json()["results"]
    assert [(r["row"], r["outcome"]) for r in rows] == [(1, "rolled_back"), (2, "unknown"), (3, "bad_format")]
    assert rows[1]["message"] == "No importer is registered with this Business Number."
    assert rows[2]["message"] == "A Business Number has exactly 9 digits."
    assert Delegation.objects.count() == before


def test_api_requests_all_rows_and_honours_the_idempotency_key(fresh):
    api = _api(fresh["broker"].bam)
    body = {"rows": [{"number": fresh["new1"].bn9, "valid_to": "2026-03-31"},
                     {"number": f"{fresh['new2'].bn9}RM0001", "scopes": ["appeals"]}],
            "scopes": ["financial"], "note": "API"}
    first = api.post(API, body, format="json", HTTP_IDEMPOTENCY_KEY="bulk-1")
    assert first.status_code == 201, first.json()
    data = first.json()
    assert data["written"] is True and [r["outcome"] for r in data["results"]] == ["request", "request"]
    d1 = Delegation.objects.get(pk=data["results"][0]["delegation"])
    assert (d1.scopes, d1.valid_to, d1.note) == (["financial"], date(2026, 3, 31), "API")
    assert Delegation.objects.get(pk=data["results"][1]["delegation"]).scopes == ["appeals"]
    replay = api.post(API, body, format="json", HTTP_IDEMPOTENCY_KEY="bulk-1")
    assert replay.status_code == 201 and replay["Idempotent-Replayed"] == "true"
    assert replay.json() == data
    assert Delegation.objects.filter(broker=fresh["broker"], importer__in=[fresh["new1"], fresh["new2"]]).count() == 2
    other = api.post(API, {**body, "note": "else"}, format="json", HTTP_IDEMPOTENCY_KEY="bulk-1")
    assert other.status_code == 409


@pytest.mark.parametrize(("body", "field"), [
    ({}, "rows"),
    ({"rows": [], "csv": "1"}, "rows"),
    ({"rows": [{"number": "123456782", "scopes": ["everything"]}]}, "rows"),
    ({"rows": [{"number": "123456782"}] * (bulk.MAX_ROWS + 1)}, "rows"),
    ({"csv": "x" * (bulk.MAX_BYTES + 1)}, "csv"),
    ({"csv": "123456782", "valid_from": "2026-01-10", "valid_to": "2026-01-01"}, "valid_to"),
    ({"csv": "123456782", "valid_from": "not a date"}, "valid_from"),
    ({"csv": "123456782", "scopes": ["nope"]}, "scopes"),
])
def test_api_bad_input_is_400_with_field_messages(fresh, body, field):
    response = _api(fresh["broker"].bam).post(API, body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()


def test_api_is_404_for_anyone_but_the_firms_manager(fresh):
    body = {"rows": [{"number": fresh["new1"].bn9}]}
    for user in (fresh["clerk"], fresh["maple"].bam):
        assert _api(user).post(API, body, format="json").status_code == 404
    assert _api(fresh["broker"].bam).post(API, {**body, "firm": 999999}, format="json").status_code == 404
    assert APIClient().post(API, body, format="json").status_code in (401, 403)
    assert not Delegation.objects.filter(importer=fresh["new1"]).exists()


def test_api_is_in_the_schema():
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    operation = schema["paths"]["/api/v1/delegations/bulk-request/"]["post"]
    assert operation["operationId"] == "delegation_bulk_request"
    assert any(p["name"] == "Idempotency-Key" for p in operation["parameters"])
    assert {"200", "201", "400"} <= set(operation["responses"])
