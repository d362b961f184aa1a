"""Billing pages: statements (detail, PDF, CSV), transaction history, payments, chart, operations.

Thin views: they find rows through ``billing.selectors`` (the access gate, Scope.BILLING, narrowed
to the importer the user acts for; anything outside answers 404), call one service and render.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from accounts.access import require_cbsa_officer
from accounts.acting import get_acting_for
from accounts.forms import add_service_errors
from accounts.roles import Scope
from billing.ledger.models import LedgerEntry
from carm_portal import idempotency, pdf
from carm_portal.csv_export import csv_response as _csv_response
from carm_portal.exceptions import ApplicationError
from carm_portal.money import format_cad

from . import charts, csv_export, pdf_tasks, selectors
from .csv_export import ledger_rows as _ledger_rows
from .forms import PaymentForm, StatementFilterForm, TransactionFilterForm
from .models import BillingRun

PAGE_SIZE = 25
HISTORY_PAGE_SIZE = 50


def _card_cap():
    from .payments import card_cap  # imported late, like the payment service below

    return card_cap()


# --- Helpers ------------------------------------------------------------------------------------

def _page(request, qs, size: int):
    return Paginator(qs, size).get_page(request.GET.get("page"))


def _query_without_page(request) -> str:
    query = request.GET.copy()
    query.pop("page", None)
    return query.urlencode()


def _no_business(request, title: str):
    """A broker who has not chosen a client yet: say so, and how to pick one."""
    return render(request, "billing/choose_client.html", {"title": title})


def _cad_url_name() -> str | None:
    """The declarations app's CAD page, if it has one (``cad_detail``)."""
    try:
        reverse("cad_detail", args=[1])
    except NoReverseMatch:
        return None
    return "cad_detail"


# --- Statements ---------------------------------------------------------------------------------

@login_required
@require_GET
def statements(request):
    business = get_acting_for(request)
    if business is None:
        return _no_business(request, _("Statements of account"))
    accounts = selectors.billing_accounts(request.user, business)
    form = StatementFilterForm(request.GET or None, accounts=accounts)
    account = form.cleaned_data.get("account") if form.is_valid() else None
    page = _page(request, selectors.statements_for(request.user, business, program_account=account), PAGE_SIZE)
    points = selectors.monthly_duties_and_taxes(accounts)
    chart = charts.bar_chart(
        points, chart_id="dt-chart",
        title=_("Duties and taxes billed, last 12 months, for %(name)s") % {"name": business.display_name},
    )
    return render(request, "billing/statements.html", {
        "business": business, "page": page, "form": form, "query": _query_without_page(request),
        "chart": chart, "chart_points": points, "chart_empty": not any(amount for _period, amount in points), "has_accounts": accounts.exists(),
        "summary": selectors.money_summary_for(request.user, business),
    })


@login_required
@require_GET
def statement_detail(request, pk: int):
    business = get_acting_for(request)
    statement = selectors.get_statement_for_user_or_404(request.user, business, pk)
    groups, page = selectors.statement_line_page(statement, request.GET.get("page"))
    return render(request, "billing/statement_detail.html", {
        "business": business, "statement": statement, "groups": groups, "page": page,
        "query": _query_without_page(request),
        "summary": selectors.statement_summary(statement), "cad_url_name": _cad_url_name(),
        "pdf_is_summary": pdf_tasks.summary_only(statement),
    })


@login_required
@require_GET
def statement_pdf(request, pk: int):
    business = get_acting_for(request)
    statement = selectors.get_statement_for_user_or_404(request.user, business, pk)
    stored = pdf_tasks.statement_pdf_or_enqueue(statement)
    if stored is None:
        return pdf.pending_page(request, back_url=reverse("billing-statement-detail", args=[statement.pk]),
                                back_label=_("Back to the statement"))
    return pdf.file_response(stored, pdf_tasks.statement_filename(statement))


@login_required
@require_GET
def statement_csv(request, pk: int):
    business = get_acting_for(request)
    statement = selectors.get_statement_for_user_or_404(request.user, business, pk)
    return csv_export.statement_csv_response(statement)


# --- Transaction history ---------------------------------------------------------------------------

def _history(request) -> tuple[TransactionFilterForm, QuerySet[LedgerEntry]]:
    business = get_acting_for(request)
    accounts = selectors.billing_accounts(request.user, business)
    form = TransactionFilterForm(request.GET or None, accounts=accounts)
    filters = form.filters() if request.GET else {}
    return form, selectors.ledger_entries_for(request.user, business, **filters)


@login_required
@require_GET
def transactions(request):
    business = get_acting_for(request)
    if business is None:
        return _no_business(request, _("Transaction history"))
    form, entries = _history(request)
    page = _page(request, entries, HISTORY_PAGE_SIZE)
    return render(request, "billing/transactions.html", {
        "business": business, "form": form, "page": page, "query": _query_without_page(request),
    })


@login_required
@require_GET
def transactions_csv(request):
    if get_acting_for(request) is None:
        raise Http404
    _form, entries = _history(request)
    name = f"transactions-{timezone.localdate():%Y-%m-%d}.csv"
    return _csv_response(_ledger_rows(entries.iterator(chunk_size=2000)), name)


# --- Payments ---------------------------------------------------------------------------------------

def _record_payment(*, actor, data: dict):
    from . import payments as payment_services  # the billing engine's service

    return payment_services.payment_record(
        actor=actor, program_account=data["program_account"], method=data["method"],
        reference=data["reference"], amount=data["amount"], received_on=data["received_on"],
    )


@login_required
def payments(request):
    business = get_acting_for(request)
    if business is None:
        return _no_business(request, _("Payments"))
    payable = selectors.billing_accounts(request.user, business, Scope.PAYMENTS)
    can_pay = payable.exists()
    form = PaymentForm(request.POST or None, accounts=payable) if can_pay else None
    if request.method == "POST":
        if not can_pay:
            raise Http404

        def record():
            if form.is_valid():
                try:
                    payment = _record_payment(actor=request.user, data=form.cleaned_data)
                except ApplicationError as exc:
                    add_service_errors(form, exc, form.service_field_map)
                else:
                    messages.success(request, _("Payment %(ref)s of %(amount)s was recorded.") % {
                        "ref": payment.reference, "amount": format_cad(payment.amount)})
                    return redirect("billing-payments")
            return None  # the form again, with its errors

        try:
            response = idempotency.form_post(request, record)
        except ApplicationError as exc:  # the key was used for another form
            add_service_errors(form, exc)
        else:
            if response is not None:
                return response
    page = _page(request, selectors.payments_for(request.user, business), PAGE_SIZE)
    summary = selectors.money_summary_for(request.user, business)
    return render(request, "billing/payments.html", {
        "business": business, "form": form, "page": page, "can_pay": can_pay, "summary": summary,
        "how_to_pay": selectors.how_to_pay_for(request.user, business, summary), "card_cap": _card_cap(),
    })


# --- Operations (staff) ---------------------------------------------------------------------------------

def _staff_only(request) -> None:
    require_cbsa_officer(request.user)


def _run_json(run: BillingRun) -> dict:
    return {
        "id": run.pk, "period_end": run.period_end.isoformat(), "run_number": run.run_number,
        "status": run.status, "status_display": run.get_status_display(), "total": run.total,
        "done": run.done, "failed": run.failed, "percent": run.progress_percent,
        "chunks_total": run.chunks_total, "chunks_done": run.chunks_done,
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
    }


@login_required
@require_GET
def ops(request):
    _staff_only(request)
    runs = list(selectors.billing_runs(request.user))
    return render(request, "billing/ops.html", {
        "runs": runs, "live": any(r.status in (BillingRun.Status.PENDING, BillingRun.Status.RUNNING) for r in runs),
    })


@login_required
@require_GET
def ops_progress(request):
    _staff_only(request)
    return JsonResponse({"runs": [_run_json(r) for r in selectors.billing_runs(request.user)]})


@login_required
@require_POST
def ops_retry(request, pk: int):
    _staff_only(request)
    run = get_object_or_404(BillingRun, pk=pk)
    from . import services

    try:
        count = services.retry_failed(run.pk, actor=request.user)
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("%(n)s failed chunk(s) of run %(run)s queued again.") % {"n": count, "run": run})
    return redirect("billing-ops")



# --- Statement reconciler (billing/reconcile.py) -------------------------------------------------------

@login_required
def statement_reconcile(request, pk: int):
    """Upload a list (or, as a broker, use the firm's CADs) and see the four groups; CSV export."""
    from . import reconcile
    from .forms import ReconcileForm

    business = get_acting_for(request)
    statement = selectors.get_statement_for_user_or_404(request.user, business, pk)
    is_broker = reconcile.firm_of(request.user) is not None
    remembered = reconcile.remembered_mapping(request.user)
    form = ReconcileForm(request.POST or None, request.FILES or None, is_broker=is_broker, initial=remembered)
    result = parsed = None
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        upload = data.get("file")
        try:
            result, parsed = reconcile.reconcile_or_error(
                statement, user=request.user, today=timezone.localdate(),
                content=upload.read() if upload else None, use_firm_cads=data.get("source") == "firm",
                number_column=data.get("number_column") or None, amount_column=data.get("amount_column") or None,
            )
        except ApplicationError as exc:
            add_service_errors(form, exc)
        else:
            export = request.POST.get("export")
            if result is not None and export in (None, "pdf"):
                # The PDF is the pdf worker's: it renders a saved reconciliation, so save first.
                mapping = {"number_column": data.get("number_column") or "",
                           "amount_column": data.get("amount_column") or ""}
                saved = reconcile.save(result, user=request.user, source=data.get("source") or "file",
                                       mapping=mapping)
                if export == "pdf":
                    return redirect("billing-reconciliation-pdf", pk=saved.pk)
            name = f"reconciliation-{statement.program_account.number}-{statement.period_end:%Y-%m-%d}"
            if result is not None and export:
                return _csv_response(reconcile.csv_rows(result), f"{name}.csv")
    status = 400 if request.method == "POST" and form.errors else 200
    return render(request, "billing/statement_reconcile.html", {
        "business": business, "statement": statement, "form": form, "result": result,
        "needs_mapping": bool(parsed and parsed.needs_mapping), "headers": parsed.headers if parsed else [],
        "cad_url_name": _cad_url_name(),
    }, status=status)


@login_required
@require_GET
def reconciliation_pdf(request, pk: int):
    """A saved reconciliation's PDF (the saver's own, of a statement still behind the gate for it), or
    the 202 page while the pdf worker renders it."""
    from .models import SavedReconciliation

    business = get_acting_for(request)
    saved = get_object_or_404(
        SavedReconciliation.objects.select_related("statement__program_account", "created_by").filter(
            created_by=request.user, statement__in=selectors.statements_for(request.user, business)), pk=pk)
    stored = pdf_tasks.reconciliation_pdf_or_enqueue(saved)
    if stored is None:
        return pdf.pending_page(request, back_url=reverse("billing-statement-reconcile", args=[saved.statement_id]),
                                back_label=_("Back to the reconciliation"))
    return pdf.file_response(stored, pdf_tasks.reconciliation_filename(saved))


@login_required
@require_GET
def account_reconcile_latest(request, account_pk: int):
    """The broker board's "Reconcile" action: the RM account's newest statement's reconcile page.

    Through the gate for the acting-for importer (another tenant's RM: 404); no statement yet: the
    statements page, saying so."""
    business = get_acting_for(request)
    if not selectors.billing_accounts(request.user, business).filter(pk=account_pk).exists():
        raise Http404
    latest = selectors.statements_for(request.user, business).filter(program_account_id=account_pk).first()
    if latest is None:
        messages.info(request, _("This RM account has no statement yet."))
        return redirect("billing-statements")
    return redirect("billing-statement-reconcile", pk=latest.pk)
