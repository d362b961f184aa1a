"""The Credits section (/offsetting/), split in tabs: the overview (the offsetting preference
first, credit and debt per RM, refunds), open debts, unused credits and the history of what each
credit paid (paginated), and the manual "apply a credit" form; and the staff refund queue.

Views are thin: the acting-for importer's RM accounts come from the access gate (Scope.BILLING to
see, Scope.PAYMENTS to act; anything else answers 404), forms parse, one service acts.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.access import program_account_ids_for, program_accounts_for, require_cbsa_officer
from accounts.acting import get_acting_for
from accounts.forms import add_service_errors
from accounts.roles import Scope
from billing.summary import money_summary
from carm_portal import idempotency
from carm_portal.exceptions import ApplicationError
from carm_portal.money import ZERO, format_cad, quantize

from . import selectors, services
from .forms import ManualApplyForm, PreferenceForm, RefundRejectForm, RefundRequestForm, RunForm
from .models import Refund

PAGE_SIZE = 25  # rows per page on the debts, credits and history pages


def _accounts(request, scope: Scope):
    acting = get_acting_for(request)
    if acting is None:
        return None, None
    accounts = program_accounts_for(request.user, scope).filter(business=acting).select_related("business")
    return acting, accounts.order_by("number")


def _base(request, tab: str):
    """(context, ids of the RM accounts the user sees) for one tab of the Credits section.

    The context holds ``acting`` (None: no importer chosen, the page says so); a chosen importer
    with no RM account in the user's reach answers 404."""
    acting, accounts = _accounts(request, Scope.BILLING)
    if acting is None:
        return {"acting": None, "tab": tab}, None
    accounts = list(accounts)
    if not accounts:
        raise Http404
    pay_accounts = program_accounts_for(request.user, Scope.PAYMENTS).filter(business=acting).order_by("number")
    # The gate's ids for this request answer "may pay here?" without another query.
    pay_ids = set(program_account_ids_for(request.user, Scope.PAYMENTS))
    return {"acting": acting, "tab": tab, "accounts": accounts, "pay_accounts": pay_accounts,
            "can_pay": any(a.pk in pay_ids for a in accounts)}, [a.pk for a in accounts]


def _paged(request, qs):
    return Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))


def _page(request, *, refund_form=None, preference_form=None, status=None):
    """The overview: the offsetting preference first, then credit and debt per RM, refunds."""
    context, ids = _base(request, "overview")
    if ids is None:
        return render(request, "offsetting/credits.html", context)
    acting, accounts, can_pay = context["acting"], context["accounts"], context["can_pay"]
    pay_accounts = context["pay_accounts"]
    credit_left = selectors.available_credit(ids)
    owed = selectors.open_debt_totals(ids)
    rows = [
        {"account": account, "credit": credit_left[account.pk], "debt": owed[account.pk],
         "refund": services.refund_check(account) if can_pay else None}
        for account in accounts
    ]
    if can_pay:
        refund_form = refund_form or RefundRequestForm(accounts=pay_accounts)
    can_prefer = services.can_change_preference(request.user, acting)
    if can_prefer:
        preference_form = preference_form or PreferenceForm(
            initial={"offsetting_preference": acting.offsetting_preference}
        )
    context.update({
        "rows": rows, "refund_form": refund_form, "refund_threshold": services.refund_threshold(),
        "open_credits": selectors.open_credits(ids).count(), "open_debts": selectors.open_debts(ids).count(),
        "run_form": RunForm(accounts=pay_accounts) if can_pay else None,
        "preference_form": preference_form if can_prefer else None,
        "refunds": Refund.objects.filter(program_account_id__in=ids).select_related("program_account")[:5],
        "total_credit": quantize(sum(credit_left.values(), ZERO)),
        # What is owed and by when: the same answer as the dashboard and billing (billing/summary.py).
        "summary": money_summary(ids, today=timezone.localdate()),
    })
    return render(request, "offsetting/credits.html", context, status=status)


@login_required
def credits_page(request):
    return _page(request)


@login_required
def debts_page(request):
    """Open debts, oldest period first, with their due dates; paginated."""
    context, ids = _base(request, "debts")
    if ids is None:
        return render(request, "offsetting/credits.html", context)
    page = _paged(request, selectors.open_debts(ids).select_related("program_account"))
    due_dates = selectors.DueDates()
    for debt in page.object_list:
        debt.due_on = due_dates[debt.billing_period]
    context.update(page=page, heading=_("Open debts"))
    return render(request, "offsetting/debts.html", context)


@login_required
def credit_list(request):
    """Credits not yet used, oldest first; paginated."""
    context, ids = _base(request, "credits")
    if ids is None:
        return render(request, "offsetting/credits.html", context)
    page = _paged(request, selectors.open_credits(ids).select_related("program_account"))
    for credit in page.object_list:
        credit.original = -credit.amount
    context.update(page=page, heading=_("Credits not yet used"))
    return render(request, "offsetting/credit_list.html", context)


@login_required
def history(request):
    """What each credit paid (newest first) and the refund requests; paginated."""
    context, ids = _base(request, "history")
    if ids is None:
        return render(request, "offsetting/credits.html", context)
    context.update(page=_paged(request, selectors.allocations_visible(ids)), heading=_("What each credit paid"))
    context["refunds"] = Refund.objects.filter(program_account_id__in=ids).select_related("program_account")[:20]
    return render(request, "offsetting/history.html", context)


def _pay_accounts_or_404(request):
    acting, accounts = _accounts(request, Scope.PAYMENTS)
    if acting is None or not accounts.exists():
        raise Http404
    return acting, accounts


@login_required
def apply_manual(request):
    """Pick a credit and the debts it pays in full (its own page: the debts are checkboxes)."""
    _acting, accounts = _pay_accounts_or_404(request)
    context, _ids = _base(request, "apply")
    account_ids = list(accounts.values_list("id", flat=True))
    form = ManualApplyForm(request.POST or None, account_ids=account_ids)
    status = None
    if request.method == "POST":
        def apply():
            if form.is_valid():
                try:
                    allocations = services.manual_apply(
                        actor=request.user, credit_id=form.cleaned_data["credit"].pk,
                        debt_ids=[d.pk for d in form.cleaned_data["debts"]],
                    )
                except ApplicationError as exc:
                    add_service_errors(form, exc)
                else:
                    messages.success(request, _("The credit paid %(n)s debt(s) in full.") % {"n": len(allocations)})
                    return redirect("offsetting:credits")
            return None

        response = _once(request, form, apply)
        if response is not None:
            return response
        status = 400
    context.update(apply_form=form, has_choices=form.fields["credit"].queryset.exists()
                   and form.fields["debts"].queryset.exists())
    return render(request, "offsetting/apply.html", context, status=status)


def _once(request, form, produce):
    """``produce`` under the form's Idempotency key (``carm_portal.idempotency.form_post``); None
    when the form is to be shown again (with the key's error if it was used for another form)."""
    try:
        return idempotency.form_post(request, produce)
    except ApplicationError as exc:
        add_service_errors(form, exc)
        return None


@login_required
@require_POST
def run_now(request):
    _acting, accounts = _pay_accounts_or_404(request)
    form = RunForm(request.POST, accounts=accounts)
    if not form.is_valid():
        raise Http404
    services.run_offsets(actor=request.user, program_account=form.cleaned_data["program_account"])
    messages.success(request, _("Offsetting was started for %(rm)s.") % {"rm": form.cleaned_data["program_account"].number})
    return redirect("offsetting:credits")


@login_required
@require_POST
def refund_request(request):
    _acting, accounts = _pay_accounts_or_404(request)
    form = RefundRequestForm(request.POST, accounts=accounts)

    def ask():
        if form.is_valid():
            try:
                refund = services.refund_request(
                    actor=request.user, program_account=form.cleaned_data["program_account"],
                    amount=form.cleaned_data["amount"], reason=form.cleaned_data["reason"],
                )
            except ApplicationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(request, _("Your refund request for %(amount)s was sent to the CBSA.")
                                 % {"amount": format_cad(refund.amount)})
                return redirect("offsetting:credits")
        return None

    response = _once(request, form, ask)
    return response if response is not None else _page(request, refund_form=form, status=400)


@login_required
@require_POST
def preference(request):
    acting = get_acting_for(request)
    if acting is None or not services.can_change_preference(request.user, acting):
        raise Http404
    form = PreferenceForm(request.POST)
    if form.is_valid():
        try:
            services.preference_update(actor=request.user, business=acting,
                                       preference=form.cleaned_data["offsetting_preference"])
        except ApplicationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("The offsetting preference was saved."))
            return redirect("offsetting:credits")
    return _page(request, preference_form=form, status=400)


# --- Staff: refund queue -------------------------------------------------------------------------

def _staff_or_404(request):
    require_cbsa_officer(request.user)


@login_required
def staff_refunds(request):
    _staff_or_404(request)
    open_refunds = Refund.objects.open().select_related("program_account", "payee", "requested_by").order_by(
        "requested_at", "id"
    )
    recent = Refund.objects.exclude(status__in=[Refund.Status.REQUESTED, Refund.Status.APPROVED]).select_related(
        "program_account", "payee"
    )[:20]
    return render(request, "offsetting/staff_refunds.html", {
        "open_refunds": open_refunds, "recent": recent, "reject_form": RefundRejectForm(),
    })


@login_required
@require_POST
def staff_refund_decide(request, pk, decision):
    _staff_or_404(request)
    refund = get_object_or_404(Refund.objects.select_related("program_account__business"), pk=pk)
    actions = {"approve": services.refund_approve, "pay": services.refund_pay, "reject": services.refund_reject}
    if decision not in actions:
        raise Http404
    kwargs = {"actor": request.user, "refund": refund}
    if decision == "reject":
        form = RefundRejectForm(request.POST)
        kwargs["reason"] = form.cleaned_data["reason"] if form.is_valid() else ""
    try:
        actions[decision](**kwargs)
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        done = {"approve": _("The refund of %(amount)s to %(payee)s was approved."),
                "pay": _("The refund of %(amount)s to %(payee)s was paid."),
                "reject": _("The refund of %(amount)s to %(payee)s was rejected.")}[decision]
        messages.success(request, done % {"amount": format_cad(refund.amount), "payee": refund.program_account.business.legal_name})
    return redirect("offsetting:staff-refunds")
