"""The cross-tenant sweep: every URL pattern and every API operation, as every kind of outsider.

The world: importer A ("Maple") with RM0001 and RM0002, importer B ("Other"), one object of each
kind on each of the three (CAD, statement, ledger entries, payment, allocation, refund, bond,
deposit, notice, appeal, penalty, document, ...). Personas: a visitor, B's BAM, a broker limited
to A's RM0001 and the financial scope, a revoked and an expired broker, A's PAM of RM0001, a
business-wide Reader of A, and a user with Django admin access (``is_staff``) who is no officer.

For each route and each object a persona must not see: a GET answers 404 (a visitor: the login
page, or 401/403 from the API); a write answers the same and leaves the database unchanged
(a fingerprint of every table of the project's apps). Every 200 is searched for strings planted
on what the persona must not see (RM numbers, names, references, transaction numbers, amounts).

``ROUTES`` maps every named URL to how to fill its kwargs and who may use it: a new route that
is not in the map fails ``test_every_route_is_mapped``.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.apps import apps
from django.urls import URLPattern, URLResolver, get_resolver, resolve, reverse
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import ClientGroup, Delegation, Membership
from accounts.roles import Role
from tests import factories
from tests.clock import stay_on

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate()
_on_today = stay_on(TODAY)  # the day does not turn during the run
PERIOD = date(2025, 10, 17)

# --- The route map ---------------------------------------------------------------------------------
# kind: "public" (anyone; only checked for leaks), "self" (acts on the user's own session or
# profile: checked for leaks, never fingerprinted), "list" (no object: a gated list or form),
# "object" (kwargs name one object: ``obj`` is its key in the world), "officer" (CBSA only).
# ``obj`` None with kind "object" never happens; ``extra`` fixes other kwargs.


@dataclass(frozen=True)
class Route:
    kind: str
    obj: str | None = None
    extra: dict = field(default_factory=dict)
    key: str = "pk"


P, S, L, OFF = Route("public"), Route("self"), Route("list"), Route("officer")


def _o(obj, **extra):
    return Route("object", obj, extra)


def _off(obj, **extra):
    return Route("officer", obj, extra)


ROUTES: dict[str, Route] = {
    # project
    "healthz": P, "readyz": P, "set_language": S, "schema": P, "api-docs": P, "api-redoc": P,
    # accounts pages
    "dashboard": L, "login": P, "logout": S, "password_change": S, "password_change_done": S,
    "password_reset": P, "password_reset_done": P, "password_reset_complete": P,
    "password_reset_confirm": Route("public", None, {"uidb64": "MQ", "token": "set-password"}),
    "switch-account": S, "business": L, "business-edit": L, "business-register": S, "membership-request": S,
    "users": L, "membership-decide": _o("membership"), "membership-edit": _o("membership"),
    "membership-remove": _o("membership"), "delegations": L, "delegation-grant": L, "delegation-request": S,
    "delegation-decide": _o("delegation"), "delegation-revoke": _o("delegation"),
    "delegation-edit": _o("delegation"),
    "client-group-create": S, "client-group-edit": _o("client_group"), "audit": L,
    # the deadline centre: the gated list; the user's own feed token and email preferences; the feed
    # itself is reached by its secret token only (an unknown token: 404)
    "deadlines": L, "deadline-feed-token": S, "deadline-preferences": S,
    "deadline-feed": Route("public", None, {"token": "not-a-token"}),
    # accounts API
    "api-token": P, "api-me": L, "api-business-list": L, "api-business-detail": _o("business"),
    "api-program-account-list": L, "api-program-account-detail": _o("program_account"),
    "api-delegation-list": L, "api-delegation-ask": S, "api-delegation-grant": L,
    "api-delegation-detail": _o("delegation"), "api-delegation-approve": _o("delegation"),
    "api-delegation-reject": _o("delegation"), "api-delegation-revoke": _o("delegation"),
    "api-delegation-change": _o("delegation"),
    "api-readiness-list": L, "api-readiness-detail": _o("program_account"),
    # declarations
    "cad_list": L, "cad_create": L, "cad_calculate": L, "cad_upload": L, "cad_upload_history": L,
    "cad_upload_status": Route("list", None, {"upload_id": "0" * 32}),
    "cad_upload_progress": Route("list", None, {"upload_id": "0" * 32}),
    "cad_detail": _o("cad"), "cad_pdf": _o("cad"), "cad_edit": _o("cad"), "cad_submit": _o("cad"), "cad_amend": _o("cad"),
    "cad_withdraw": _o("cad"),
    "api-cad-list": L, "api-cad-file": L, "api-cad-import-csv": L, "api-cad-detail": _o("cad"),
    "api-cad-amend": _o("cad"), "api-cad-submit": _o("cad"), "api-cad-versions": _o("cad"),
    "api-cad-withdraw": _o("cad"), "api-tariff-item-list": L,
    "api-tariff-item-detail": Route("list", None, {"classification": "0101210000"}),
    "api-exchange-rate-list": L, "api-tariff-treatment-list": L, "api-gst-status-list": L,
    "api-reason-code-list": L,
    # billing
    "billing-statements": L, "billing-statement-detail": _o("statement"), "billing-statement-pdf": _o("statement"),
    "billing-statement-csv": _o("statement"), "billing-statement-reconcile": _o("statement"),
    "billing-reconciliation-pdf": _o("saved_reconciliation"),
    "billing-account-reconcile-latest": Route("object", "program_account", key="account_pk"),
    "billing-transactions": L, "billing-transactions-csv": L,
    "billing-payments": L, "billing-ops": OFF, "billing-ops-progress": OFF,
    "billing-ops-retry": _off("billing_run"),
    "api-statement-list": L, "api-statement-detail": _o("statement"), "api-statement-pdf": _o("statement"),
    "api-statement-lines": _o("statement"), "api-statement-lines-csv": _o("statement"),
    "api-statement-reconcile": _o("statement"),
    "api-ledger-entry-list": L, "api-ledger-entry-detail": _o("entry"), "api-daily-notice-list": L,
    "api-daily-notice-detail": _o("daily_notice"), "api-payment-list": L, "api-payment-detail": _o("payment"),
    "api-billing-run-list": OFF, "api-billing-run-start": OFF, "api-billing-run-detail": _off("billing_run"),
    "api-billing-run-retry": _off("billing_run"), "api-money-summary": L,
    # security (RPP)
    "rpp:overview": L, "rpp:account": _o("program_account"), "rpp:enrol": _o("program_account"),
    "rpp:withdraw": _o("program_account"), "rpp:recompute": _o("program_account"),
    "rpp:estimate": _o("program_account"), "rpp:forecast": _o("program_account"),
    "rpp:reduction": _o("program_account"), "rpp:bond-create": L,
    "rpp:deposit-create": L, "rpp:staff-reductions": OFF, "rpp:staff-reduction-decide": _off("reduction"),
    "api-rpp-enrolment-list": L, "api-rpp-enrolment-detail": _o("enrolment"),
    "api-rpp-enrolment-withdraw": _o("enrolment"), "api-rpp-requirement-list": L,
    "api-rpp-requirement-estimate": L, "api-rpp-requirement-recompute": L, "api-rpp-requirement-forecast": L,
    "api-rpp-requirement-detail": _o("requirement"), "api-rpp-bond-list": L, "api-rpp-bond-detail": _o("bond"),
    "api-rpp-bond-allocate": _o("bond"), "api-rpp-deposit-list": L, "api-rpp-deposit-detail": _o("deposit"),
    "api-rpp-reduction-list": L, "api-rpp-reduction-detail": _o("reduction"), "api-rpp-notice-list": L,
    "api-rpp-notice-detail": _o("notice"), "api-rpp-notice-read": _o("notice"),
    # offsetting
    "offsetting:credits": L, "offsetting:debts": L, "offsetting:credit-list": L, "offsetting:history": L,
    "offsetting:apply": L, "offsetting:run": L, "offsetting:refund-request": L,
    "offsetting:preference": L, "offsetting:staff-refunds": OFF,
    "offsetting:staff-refund-decide": _off("refund", decision="approve"),
    "api-offset-apply": L, "api-offset-run": L, "api-offset-allocation-list": L,
    "api-offset-allocation-detail": _o("allocation"), "api-offset-credit-list": L,
    "api-offset-credit-detail": _o("credit"), "api-offset-debt-list": L, "api-offset-debt-detail": _o("debt"),
    "api-offset-refund-list": L, "api-offset-refund-detail": _o("refund"), "api-offset-preference-list": L,
    "api-offset-preference-detail": _o("business"),
    # appeals
    "appeals:list": L, "appeals:new": L, "appeals:detail": _o("appeal"), "appeals:save": _o("appeal"),
    "appeals:submit": _o("appeal"), "appeals:withdraw": _o("appeal"), "appeals:document-upload": _o("appeal"),
    "appeals:letter": _o("appeal"), "appeals:document": _o("document"), "appeals:penalty": _o("penalty"),
    "appeals:extension-new": L, "appeals:review": OFF, "appeals:review-action": _off("appeal"),
    "appeals:extension-decide": _off("extension"),
    # brokers (the broker board)
    "brokers:board": L, "brokers:board-csv": L, "brokers:client-search": L, "brokers:act-for": S,
    "brokers:worklists": L, "brokers:remind": L, "brokers:bulk-request": L,
    "api-delegation-bulk-request": L,
    "api-broker-board": L, "api-broker-worklist": Route("list", extra={"kind": "cads"}),
    "api-appeal-list": L, "api-appeal-detail": _o("appeal"), "api-appeal-submit": _o("appeal"),
    "api-appeal-withdraw": _o("appeal"), "api-appeal-documents": _o("appeal"),
    "api-appeal-acknowledge": _off("appeal"), "api-appeal-assign": _off("appeal"),
    "api-appeal-close": _off("appeal"), "api-appeal-decide": _off("appeal"),
    "api-appeal-reject-incomplete": _off("appeal"), "api-appeal-request-info": _off("appeal"),
    "api-penalty-list": L, "api-penalty-detail": _o("penalty"), "api-statement-of-adjustment-list": L,
    "api-statement-of-adjustment-detail": _o("soa"), "api-appeal-extension-list": L,
    "api-appeal-extension-detail": _o("extension"), "api-appeal-extension-decide": _off("extension"),
}

# Objects that belong to the business, not to one RM: a PAM or RM-limited broker is not tested
# on RM0002's copy (it is the same business's), only on the other importer's.
BUSINESS_LEVEL = {"business", "delegation", "membership", "client_group", "billing_run"}


def _walk(patterns, ns=None):
    for p in patterns:
        if isinstance(p, URLResolver):
            inner = ns
            if p.namespace:
                inner = f"{ns}:{p.namespace}" if ns else p.namespace
            yield from _walk(p.url_patterns, inner)
        elif isinstance(p, URLPattern) and p.name:
            yield f"{ns}:{p.name}" if ns else p.name


def route_names() -> list[str]:
    return sorted({n for n in _walk(get_resolver().url_patterns) if not n.startswith("admin:")})


@functools.cache
def api_operations() -> tuple[tuple[str, str], ...]:
    """(path template, METHOD) for every operation in the OpenAPI schema (drf-spectacular); built once
    per run (the URLconf does not change within it)."""
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    return tuple((path, method.upper()) for path, item in schema["paths"].items() for method in item
                 if method in {"get", "post", "put", "patch", "delete"})


def _route_of_operation(path: str) -> str:
    concrete = re.sub(r"\{classification\}", "0101210000", path)
    concrete = re.sub(r"\{[^}]+\}", "1", concrete)
    return resolve(concrete).url_name


def test_every_route_is_mapped():
    """A new URL or API operation must be added to ROUTES (and so to the sweep)."""
    names = route_names()
    missing = [n for n in names if n not in ROUTES]
    assert not missing, f"routes not covered by the access sweep, add them to ROUTES: {missing}"
    stale = [n for n in ROUTES if n not in names]
    assert not stale, f"ROUTES names routes that no longer exist: {stale}"


def test_every_api_operation_is_mapped(db):
    ops = api_operations()
    assert len(ops) > 60
    unknown = sorted({(p, _route_of_operation(p)) for p, _m in ops if _route_of_operation(p) not in ROUTES})
    assert not unknown, f"API operations not covered by the access sweep: {unknown}"


# --- The world -------------------------------------------------------------------------------------


class World(dict):
    """tenant ("rm1", "rm2", "other") → {object key: object}; plus personas and markers."""


def _entry(pa, kind, amount, ref, key, *, period=PERIOD, effective=date(2025, 10, 1)):
    from billing.ledger.models import LedgerEntry

    return LedgerEntry.objects.create(
        program_account=pa, kind=kind, amount=Decimal(amount), effective_date=effective, billing_period=period,
        idempotency_key=key, reference=ref, description=f"{ref} description", other=Decimal(amount),
    )


def _tenant(tag: str, pa, bam, amount: str, officer, n: int) -> dict:
    """One of each object on RM account ``pa``; every string the persona must not see has ``tag``."""
    from appeals.models import (
        Appeal,
        AppealDocument,
        ExtensionApplication,
        Penalty,
        StatementOfAdjustment,
    )
    from billing.ledger.models import LedgerEntry
    from billing.models import BillingRun, DailyNotice, Payment, SavedReconciliation, Statement
    from billing.offsetting.models import Allocation, Refund
    from billing.rpp.models import (
        Bond,
        BondAllocation,
        CashDeposit,
        Notice,
        ReductionRequest,
        RppEnrolment,
        SecurityRequirement,
    )
    from declarations.models import CAD

    K = LedgerEntry.Kind
    business = pa.business
    o: dict = {"program_account": pa, "business": business}
    o["cad"] = CAD.objects.create(transaction_number=f"9{n:013d}", program_account=pa, filed_by=bam)
    o["debt"] = o["entry"] = _entry(pa, K.CAD_CHARGE, amount, f"{tag}-CAD", f"{tag}-debt")
    credit = _entry(pa, K.PAYMENT, f"-{amount}", f"{tag}-PAY", f"{tag}-credit")
    o["credit"] = _entry(pa, K.PAYMENT, "-1.00", f"{tag}-PAY2", f"{tag}-credit2")
    o["payment"] = Payment.objects.create(program_account=pa, method=Payment.Method.CHEQUE, reference=f"{tag}-PAY",
                                          amount=Decimal(amount), received_on=date(2025, 10, 1),
                                          billing_period=PERIOD, ledger_entry=credit)
    o["allocation"] = Allocation.objects.create(credit=credit, debt=o["debt"], amount=Decimal(amount),
                                                applied_on=date(2025, 10, 2))
    o["statement"] = Statement.objects.create(program_account=pa, period_end=PERIOD, period_start=date(2025, 9, 18),
                                              due_date=date(2025, 10, 31), issued_on=date(2025, 10, 25))
    o["saved_reconciliation"] = SavedReconciliation.objects.create(
        statement=o["statement"], created_by=bam, rows={f"9{n:013d}": ["matched", amount, amount]})
    o["daily_notice"] = DailyNotice.objects.create(program_account=pa, day=date(2025, 10, 1))
    o["refund"] = Refund.objects.create(program_account=pa, payee=business, amount=Decimal(amount),
                                        reason=f"{tag}-REFUND")
    o["bond"] = Bond.objects.create(business=business, surety_name=f"{tag}-SURETY", bond_number=f"{tag}-BOND",
                                    amount=Decimal(amount), effective_date=date(2025, 1, 1),
                                    expiry_date=TODAY + timedelta(days=20))
    BondAllocation.objects.create(bond=o["bond"], program_account=pa, amount=Decimal(amount))
    # A bond notice with no RM account: only the bond's allocation says whose it is.
    o["notice"] = Notice.objects.create(business=business, bond=o["bond"], kind=Notice.Kind.BOND_EXPIRY,
                                        key=f"{tag}-notice", subject=f"{tag}-BOND expires", body=f"{tag}-BOND")
    o["deposit"] = CashDeposit.objects.create(program_account=pa, amount=Decimal(amount),
                                              received_date=date(2025, 10, 1))
    o["enrolment"] = RppEnrolment.objects.create(program_account=pa)
    z = Decimal(amount)
    o["requirement"] = SecurityRequirement.objects.create(
        program_account=pa, basis=SecurityRequirement.Basis.HISTORY, trigger=SecurityRequirement.Trigger.ON_DEMAND,
        as_of=TODAY, first_period=date(2024, 11, 17), last_period=PERIOD, highest_month=z, base_amount=z,
        bond_share=Decimal("0.50"), minimum=z, maximum=z, bond_amount=z, cash_amount=z, due_date=TODAY, is_current=True,
    )
    o["reduction"] = ReductionRequest.objects.create(program_account=pa, requirement=o["requirement"],
                                                     requested_amount=z, rationale=f"{tag}-RATIONALE")
    o["penalty"] = Penalty.objects.create(program_account=pa, npa_number=f"{tag}-NPA", contravention_code="C001",
                                          amount=z, served_on=TODAY)
    o["soa"] = StatementOfAdjustment.objects.create(
        program_account=pa, cad=o["cad"], number=f"{tag}-SOA", decision_date=TODAY, previous_amount=z,
        new_amount=z, change=Decimal("0.00"), reason=f"{tag}-SOA reason",
    )
    o["appeal"] = Appeal.objects.create(program_account=pa, kind=Appeal.Kind.PENALTY, penalty=o["penalty"],
                                        issue=Appeal.Issue.values[0], decision_date=TODAY, amount_in_dispute=z,
                                        filed_by=bam, grounds=f"{tag}-GROUNDS", status=Appeal.Status.SUBMITTED)
    o["document"] = AppealDocument.objects.create(
        appeal=o["appeal"], original_name=f"{tag}-doc.pdf", stored_name=f"sweep/{tag}.pdf",
        content_type="application/pdf", size=10, sha256="0" * 64, uploaded_by=bam,
    )
    o["extension"] = ExtensionApplication.objects.create(program_account=pa, reasons=f"{tag}-EXT",
                                                         requested_by=bam, requested_on=TODAY, penalty=o["penalty"])
    o["billing_run"] = BillingRun.objects.get_or_create(period_end=PERIOD)[0]
    o["markers"] = [pa.number, f"{tag}-CAD", f"{tag}-PAY", f"{tag}-BOND", f"{tag}-NPA", f"{tag}-SOA",
                    f"{tag}-GROUNDS", o["cad"].transaction_number, amount, f"{Decimal(amount):,}"]
    return o


@pytest.fixture
def world(db, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    # Sessions in a signed cookie: a logged-in request reads no session row (the sweep makes ~2,500);
    # who is logged in, and so every gate decision, is the same as with database sessions.
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"
    # Thousands of expected 404/400 answers: not logged (a 500 still is, at ERROR).
    request_log = logging.getLogger("django.request")
    level = request_log.level
    request_log.setLevel(logging.ERROR)
    try:
        yield _world()
    finally:
        request_log.setLevel(level)


def _world() -> World:
    officer = factories.make_officer()
    a = factories.make_business(name="Maple Sweep Imports", accounts=2)
    b = factories.make_business(name="Zephyr Other Goods", accounts=1)
    a.bam = factories.add_member(a, role=Role.BAM)
    b.bam = factories.add_member(b, role=Role.BAM)
    rm1, rm2 = a.program_accounts.order_by("number")
    (brm,) = b.program_accounts.all()
    w = World()
    w["rm1"] = _tenant("RMONE", rm1, a.bam, "1357.91", officer, 1)
    w["rm2"] = _tenant("RMTWO", rm2, a.bam, "2468.13", officer, 2)
    w["other"] = _tenant("OTHERB", brm, b.bam, "3579.24", officer, 3)
    w["other"]["markers"].append(b.legal_name)
    # An offset across A's RMs: RM0002's credit paid RM0001's debt (auto_business).
    from billing.ledger.models import LedgerEntry
    from billing.offsetting.models import Allocation

    cross_credit = _entry(rm2, LedgerEntry.Kind.PAYMENT, "-24.68", "RMTWO-XCREDIT", "x-credit")
    cross_debt = _entry(rm1, LedgerEntry.Kind.CAD_CHARGE, "24.68", "RMONE-XDEBT", "x-debt")
    Allocation.objects.create(credit=cross_credit, debt=cross_debt, amount=Decimal("24.68"), applied_on=TODAY)
    w["rm2"]["markers"].append("RMTWO-XCREDIT")

    broker = factories.make_business(kind="broker", name="Sweep Brokers", accounts=0)
    w["personas"] = personas = {"anonymous": None}
    personas["other_bam"] = b.bam
    personas["staff_only"] = factories.make_user(is_staff=True)
    broker_rm1 = factories.add_member(broker, role=Role.BAM)
    factories.make_delegation(a, broker, accounts=[rm1], financial=True, cad_submit=False, adjust=False,
                              appeals=False, security=False)
    personas["broker_rm1"] = broker_rm1
    for name, status, valid_to in (("broker_revoked", Delegation.Status.REVOKED, None),
                                   ("broker_expired", Delegation.Status.ACTIVE, TODAY - timedelta(days=1))):
        firm = factories.make_business(kind="broker", name=f"{name} firm", accounts=0)
        personas[name] = factories.add_member(firm, role=Role.BAM)
        factories.make_delegation(a, firm, status=status, valid_from=TODAY - timedelta(days=30), valid_to=valid_to,
                                  financial=True, cad_submit=True, adjust=True, appeals=True, security=True)
    personas["pam_rm1"] = factories.add_member(a, role=Role.PAM, program_account=rm1)
    personas["reader"] = factories.add_member(a, role=Role.READER)
    # Business-level objects: a delegation, a membership and a client group on each side.
    for tag, business in (("rm1", a), ("rm2", a), ("other", b)):
        t = w[tag]
        other_firm = factories.make_business(kind="broker", name=f"{tag} firm", accounts=0)
        t["delegation"] = factories.make_delegation(business, other_firm, status=Delegation.Status.REQUESTED)
        t["membership"] = Membership.objects.create(user=factories.make_user(), business=business, role=Role.READER,
                                                    status=Membership.Status.PENDING)
        t["client_group"] = ClientGroup.objects.get_or_create(broker=other_firm, name=f"{tag} group")[0]
    w["officer"] = officer
    return w


# Which tenants each persona must not see at all (every object there answers 404), and which only
# on RM-bound objects (the business's own objects stay visible to its PAM or RM-limited broker).
FORBIDDEN = {
    "anonymous": ("rm1", "rm2", "other"), "other_bam": ("rm1", "rm2"), "staff_only": ("rm1", "rm2", "other"),
    "broker_revoked": ("rm1", "rm2", "other"), "broker_expired": ("rm1", "rm2", "other"),
    "broker_rm1": ("rm2", "other"), "pam_rm1": ("rm2", "other"), "reader": ("other",),
}
# Whose objects each persona is sent to (a subset of FORBIDDEN, to keep the sweep fast: RM0002
# behind the same gate as RM0001 adds nothing for an outsider of the whole business).
SWEPT = {
    "anonymous": ("rm1", "other"), "other_bam": ("rm1",), "staff_only": ("rm1", "other"),
    "broker_revoked": ("rm1",), "broker_expired": ("rm1",), "broker_rm1": ("rm2", "other"),
    "pam_rm1": ("rm2", "other"), "reader": ("other",),
}
RM_LIMITED = {"broker_rm1", "pam_rm1"}
# A broker's delegation is limited to the financial scope: on RM0001, only billing objects show.
BROKER_NOT_FINANCIAL = {"cad", "bond", "notice", "deposit", "enrolment", "requirement", "reduction", "penalty",
                        "soa", "appeal", "document", "extension"}


def _client(user):
    client = APIClient()
    if user is not None:
        client.force_login(user)
    return client


# A statement that may write: the full fingerprint is recomputed only after one ran. ``SELECT … FOR
# UPDATE`` does not write (it would only cost a fingerprint). Counted in Python as Django sends the
# SQL (no query of the database's statistics per write: that was ~4 % of the sweep).
_MAY_WRITE = re.compile(r"\b(INSERT|UPDATE|DELETE|TRUNCATE|MERGE|COPY)\b", re.IGNORECASE)
_FOR_UPDATE = re.compile(r"\bFOR\s+(NO\s+KEY\s+)?UPDATE\b", re.IGNORECASE)


class _WriteCounter:
    """``connection.execute_wrapper``: counts the statements that may write, on the test's connection
    (the only one: the test client, eager Celery and ``on_commit`` all run on it)."""

    def __init__(self):
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        if _MAY_WRITE.search(_FOR_UPDATE.sub("", sql)):
            self.count += 1
        return execute(sql, params, many, context)


class Fingerprint:
    """Every row of the project's apps' tables, hashed (``_fingerprint``). ``before()`` right
    before a write (a GET may have written, e.g. a lazily computed requirement), ``changed()`` after.
    Use as a context manager: it counts the statements that may write while it is open, and on exit
    checks that the database holds what the last fingerprint saw if no write was counted since (a
    write the counter missed fails the test instead of hiding a change)."""

    def __init__(self):
        from django.db import connection

        self.counter = _WriteCounter()
        self._wrapper = connection.execute_wrapper(self.counter)
        self.value, self.writes = _fingerprint(), 0

    def __enter__(self):
        self._wrapper.__enter__()
        self.value, self.writes = _fingerprint(), self.counter.count
        return self

    def __exit__(self, *exc):
        self._wrapper.__exit__(*exc)
        if exc[0] is None and self.counter.count == self.writes:
            assert _fingerprint() == self.value, "a write was not seen by the write counter"

    def before(self) -> None:
        if self.counter.count != self.writes:
            self.value, self.writes = _fingerprint(), self.counter.count

    def changed(self) -> bool:
        if self.counter.count == self.writes:
            return False
        old = self.value
        self.value, self.writes = _fingerprint(), self.counter.count
        return self.value != old


def _fingerprint() -> str:
    digest = hashlib.sha256()
    for model in apps.get_models():
        if model._meta.app_label not in {"accounts", "declarations", "billing", "offsetting", "rpp", "appeals"}:
            continue
        digest.update(model._meta.label.encode())
        digest.update(repr(list(model.objects.order_by("pk").values_list())).encode())
    return digest.hexdigest()


def _url(name: str, route: Route, obj=None) -> str:
    kwargs = dict(route.extra)
    if obj is not None:
        kwargs[route.key] = obj.pk
    return reverse(name, kwargs=kwargs)


def _body(t: dict) -> dict:
    """A plausible body aimed at tenant ``t``'s objects, for every write route."""
    return {"program_account": t["program_account"].pk, "account": t["program_account"].pk,
            "credit": t["credit"].pk, "debts": [t["debt"].pk], "debt": t["debt"].pk, "penalty": t["penalty"].pk,
            "statements": [t["soa"].pk], "statement": t["soa"].pk, "cad": t["cad"].pk, "amount": "10.00",
            "reason": "sweep", "note": "sweep", "grounds": "sweep", "reasons": "sweep", "grant": True,
            "outcome": "allowed", "officer": t["program_account"].pk, "offsetting_preference": "none",
            "method": "cheque", "reference": "SWEEP-1", "received_on": "2025-10-01", "monthly_estimate": "10.00",
            "requested_amount": "10.00", "rationale": "sweep", "decision": "approve", "role": "reader"}


MULTIPART = {"api-appeal-documents", "api-cad-import-csv"}


def _write(client, name: str, method: str, url: str, target: dict):
    body = _body(target)
    if not _is_api(name):
        return client.post(url, body)
    if name in MULTIPART:
        from django.core.files.uploadedfile import SimpleUploadedFile

        body = {"file": SimpleUploadedFile("sweep.pdf", b"%PDF-1.4 sweep", content_type="application/pdf"),
                "program_account": body["program_account"]}
        return getattr(client, method.lower())(url, body, format="multipart")
    return getattr(client, method.lower())(url, body, format="json")


def _is_api(name: str) -> bool:
    return name.startswith("api-") or name in {"schema"}


DENIED_API = {404, 405}
DENIED_ANON_API = {401, 403, 405}


def _check_denied(persona, name, method, response, failures, what):
    code = response.status_code
    if persona == "anonymous":
        ok = code in DENIED_ANON_API if _is_api(name) else (
            code == 405 or (code == 302 and "/login/" in response.get("Location", "")))
    else:
        ok = code in DENIED_API
    if not ok:
        failures.append(f"{persona} {method} {name} on {what}: {code}")


def _check_no_leak(persona, name, response, markers, failures):
    if response.status_code != 200 or response.get("Content-Type", "").split(";")[0] not in {
            "text/html", "application/json", "text/csv", "application/vnd.oai.openapi+json"}:
        return
    body = b"".join(response.streaming_content) if response.streaming else response.content
    text = body.decode(errors="replace")
    for marker in markers:
        if marker and marker in text:
            failures.append(f"{persona} GET {name}: shows {marker!r}")


def _methods(name: str, api_ops: dict[str, set[str]]) -> set[str]:
    if _is_api(name):
        return api_ops.get(name, {"GET"})
    return {"GET", "POST"}


def test_sweep(world):
    api_ops: dict[str, set[str]] = {}
    for path, method in api_operations():
        api_ops.setdefault(_route_of_operation(path), set()).add(method)
    failures: list[str] = []
    requests = 0
    with Fingerprint() as baseline:
        for persona, user in world["personas"].items():
            client = _client(user)
            forbidden = FORBIDDEN[persona]
            markers = [m for tag in forbidden for m in world[tag]["markers"]]
            for name, route in ROUTES.items():
                methods = _methods(name, api_ops)
                if route.kind == "public" and persona != "anonymous":
                    continue  # no tenant data: one visit is enough
                # Routes with no object: GET must not leak; visitors/non-officers are denied officer pages.
                if route.obj is None:
                    url = _url(name, route)
                    if "GET" in methods:
                        response = client.get(url)
                        requests += 1
                        if route.kind == "officer" or (persona == "anonymous" and route.kind == "list"):
                            _check_denied(persona, name, "GET", response, failures, "the route")
                        else:
                            if response.status_code >= 500:
                                failures.append(f"{persona} GET {name}: {response.status_code}")
                            _check_no_leak(persona, name, response, markers, failures)
                    writes = methods - {"GET"}
                    if writes and route.kind in {"list", "officer"} and persona != "reader":
                        target = world[forbidden[0]] if forbidden else None
                        for method in sorted(writes):
                            baseline.before()
                            response = _write(client, name, method, url, target)
                            requests += 1
                            if response.status_code >= 500:
                                failures.append(f"{persona} {method} {name}: {response.status_code}")
                            if baseline.changed():
                                failures.append(f"{persona} {method} {name} aimed at {forbidden[0]} changed the database")
                    continue
                for tag in SWEPT[persona]:
                    if persona in RM_LIMITED and tag == "rm2" and route.obj in BUSINESS_LEVEL:
                        continue
                    obj = world[tag][route.obj]
                    url = _url(name, route, obj)
                    for method in sorted(methods):
                        if method == "GET":
                            response = client.get(url)
                        else:
                            baseline.before()
                            response = _write(client, name, method, url, world[tag])
                        requests += 1
                        _check_denied(persona, name, method, response, failures, f"{tag} {route.obj}")
                        if method != "GET" and baseline.changed():
                            failures.append(f"{persona} {method} {name} on {tag} changed the database")
                # The broker's delegation gives RM0001's financial scope only.
                if persona == "broker_rm1" and route.obj in BROKER_NOT_FINANCIAL and route.kind == "object":
                    response = client.get(_url(name, route, world["rm1"][route.obj]))
                    requests += 1
                    _check_denied(persona, name, "GET", response, failures, f"rm1 {route.obj} (not in its scopes)")
    assert requests > 1000
    assert not failures, f"{len(failures)} access failures:\n" + "\n".join(failures[:200])


def test_reader_cannot_write(world):
    """A Reader sees A's objects but every write on them answers 404 (or 400) and changes nothing."""
    api_ops: dict[str, set[str]] = {}
    for path, method in api_operations():
        api_ops.setdefault(_route_of_operation(path), set()).add(method)
    client = _client(world["personas"]["reader"])
    with Fingerprint() as baseline:
        failures = []
        for name, route in ROUTES.items():
            if route.kind != "object":
                continue
            writes = _methods(name, api_ops) - {"GET"}
            for method in sorted(writes):
                for tag in ("rm1", "rm2"):
                    obj = world[tag][route.obj]
                    url = _url(name, route, obj)
                    baseline.before()
                    response = _write(client, name, method, url, world[tag])
                    if response.status_code >= 500 or 200 <= response.status_code < 300 and _is_api(name):
                        failures.append(f"reader {method} {name} on {tag}: {response.status_code}")
                    if baseline.changed():
                        failures.append(f"reader {method} {name} on {tag} changed the database")
    assert not failures, "\n".join(failures)


def test_reader_cannot_mark_a_notice_read(world):
    notice = world["rm1"]["notice"]
    client = _client(world["personas"]["reader"])
    assert client.get(f"/api/v1/security/notices/{notice.pk}/").status_code == 200
    assert client.post(f"/api/v1/security/notices/{notice.pk}/read/").status_code == 404
    notice.refresh_from_db()
    assert notice.read_at is None
    client = _client(world["rm1"]["program_account"].business.bam)
    assert client.post(f"/api/v1/security/notices/{notice.pk}/read/").status_code == 200


def test_rm_limited_readers_see_no_other_rm_in_offsets(world):
    for persona in ("pam_rm1", "broker_rm1"):
        client = _client(world["personas"][persona])
        listed = client.get("/api/v1/offsets/allocations/")
        assert listed.status_code == 200
        text = listed.content.decode()
        assert "RMONE-CAD" in text and "RMTWO" not in text, persona
        for url in ("/offsetting/", "/offsetting/debts/", "/offsetting/unused/", "/offsetting/history/"):
            page = client.get(url)
            assert page.status_code == 200 and "RMTWO" not in page.content.decode(), (persona, url)
    # The importer's BAM sees the cross-RM offset with both sides.
    client = _client(world["rm1"]["program_account"].business.bam)
    assert "RMTWO-XCREDIT" in client.get("/api/v1/offsets/allocations/").content.decode()


def test_admin_access_alone_reads_no_tenant(world):
    client = _client(world["personas"]["staff_only"])
    for url in ("/api/v1/statements/", "/api/v1/ledger-entries/", "/api/v1/payments/"):
        assert client.get(url).json()["count"] == 0, url
    officer = _client(world["officer"])
    assert officer.get("/api/v1/billing-runs/").status_code == 200
    assert client.get("/api/v1/billing-runs/").status_code == 404


def test_the_fingerprint_sees_every_write(world):
    """The harness itself: an ORM update, a raw SQL write and a delete each count as a change."""
    from django.db import connection

    from billing.rpp.models import Notice

    notice = world["rm1"]["notice"]
    with Fingerprint() as baseline:
        baseline.before()
        Notice.objects.filter(pk=notice.pk).update(read_at=timezone.now())
        assert baseline.changed()
        baseline.before()
        with connection.cursor() as cursor:
            cursor.execute(f"UPDATE {Notice._meta.db_table} SET read_at = NULL WHERE id = %s", [notice.pk])
        assert baseline.changed()
        baseline.before()
        Notice.objects.filter(pk=notice.pk).select_for_update().first()  # reads only
        assert not baseline.changed()
        world["other"]["membership"].delete()
        assert baseline.changed()
