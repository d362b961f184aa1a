"""Browser pages for RPP security, for the importer the user acts for (or a broker's client).

Every object is found through the access gate: Scope.SECURITY to see, Scope.MANAGE_SECURITY to
change; anything outside answers 404. Views parse a form, call one service and render.
"""

from __future__ import annotations

from decimal import Decimal

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Q
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.access import cbsa_officer_required, get_program_account_or_404
from accounts.acting import get_acting_for
from accounts.forms import add_service_errors
from accounts.models import ProgramAccount
from accounts.roles import Scope
from carm_portal.exceptions import ApplicationError
from carm_portal.money import format_cad

from . import forecast as review_forecast
from . import services
from .forms import (
    BondForm,
    DepositForm,
    EnrolForm,
    EstimateForm,
    ForecastForm,
    ReductionDecisionForm,
    ReductionForm,
)
from .models import (
    BondAllocation,
    CashDeposit,
    Notice,
    ReductionRequest,
    RppEnrolment,
    RppStatus,
    SecurityForecast,
)
from .notice_text import with_text
from .selectors import positions_for, security_accounts

CHART_HEIGHT = 150
BAR_WIDTH = 40
BAR_GAP = 12


def _importer_accounts(user, business, *, manage=False):
    return (security_accounts(user, manage=manage)
            .filter(business=business, activity=ProgramAccount.Activity.IMPORTER)
            .select_related("business").order_by("number"))


def _acting_or_404(request):
    acting = get_acting_for(request)
    if acting is None:
        raise Http404
    return acting


def chart_for(requirement) -> dict | None:
    """A small bar chart of the 12 monthly inputs, as coordinates for an inline SVG."""
    if requirement is None or not requirement.monthly_totals:
        return None
    values = [Decimal(m["amount"]) for m in requirement.monthly_totals]
    top = max(max(values), Decimal("1"))
    bars = []
    for i, (m, value) in enumerate(zip(requirement.monthly_totals, values, strict=True)):
        height = int(max(value, Decimal("0")) * CHART_HEIGHT / top)
        period = timezone.datetime.fromisoformat(m["period"]).date()
        bars.append({
            "x": i * (BAR_WIDTH + BAR_GAP), "y": CHART_HEIGHT - height, "height": height, "width": BAR_WIDTH,
            "label": date_format(period, "M"), "period": period, "amount": value,
            "highest": requirement.highest_period is not None and period == requirement.highest_period,
            "text_x": i * (BAR_WIDTH + BAR_GAP) + BAR_WIDTH // 2,
        })
    return {"bars": bars, "width": len(bars) * (BAR_WIDTH + BAR_GAP) - BAR_GAP, "height": CHART_HEIGHT,
            "label_y": CHART_HEIGHT + 16, "total_height": CHART_HEIGHT + 22}


@login_required
def overview(request):
    acting = get_acting_for(request)
    rows = []
    if acting is not None:
        accounts = list(_importer_accounts(request.user, acting))
        positions = positions_for(accounts)
        enrolments = {e.program_account_id: e for e in RppEnrolment.objects.filter(program_account__in=accounts)}
        rows = [(pa, positions[pa.pk], enrolments.get(pa.pk)) for pa in accounts]
        if len(rows) == 1:
            return redirect("rpp:account", pk=rows[0][0].pk)
    return render(request, "rpp/overview.html", {"acting": acting, "rows": rows})


FORECAST_CHART = {"bar": 22, "gap": 8, "height": 160, "left": 0}


def forecast_chart(f) -> dict:
    """24 bars (12 months before the window, then the window: actual, projected or what-if) and two
    lines (the bond the forecast calls for, and the bond posted), as coordinates for an inline SVG."""
    c = FORECAST_CHART
    months = f.chart_months
    top = max([m.amount for m in months] + [f.bond_amount, f.bond_posted, Decimal("1")])

    def y(amount: Decimal) -> int:
        return c["height"] - int(max(amount, Decimal("0")) * c["height"] / top)

    bars = []
    for i, m in enumerate(months):
        x = i * (c["bar"] + c["gap"])
        bars.append({"x": x, "y": y(m.amount), "height": c["height"] - y(m.amount), "width": c["bar"],
                     "source": m.source, "period": m.period, "amount": m.amount, "label": date_format(m.period, "M"),
                     "text_x": x + c["bar"] // 2, "in_window": m in f.months})
    width = len(months) * (c["bar"] + c["gap"]) - c["gap"]
    return {"bars": bars, "width": width, "height": c["height"], "label_y": c["height"] + 16,
            "total_height": c["height"] + 22, "bond_y": y(f.bond_amount), "posted_y": y(f.bond_posted),
            "window_x": len(f.history) * (c["bar"] + c["gap"]) - c["gap"] // 2}


@login_required
def forecast(request, pk):
    """The next annual review, forecast, with a what-if (a GET form: nothing is stored)."""
    pa = get_program_account_or_404(request.user, Scope.SECURITY, pk)
    today = timezone.localdate()
    window = services.annual_review_window(services.next_annual_review(today).year)
    form = ForecastForm(request.GET or None, window=window)
    what_if = form.what_if() if form.is_bound and form.is_valid() else {}
    try:
        result = review_forecast.review_forecast(pa, today=today, **what_if)
    except ApplicationError as exc:
        add_service_errors(form, exc)
        result = review_forecast.review_forecast(pa, today=today)
    return render(request, "rpp/forecast.html", {
        "pa": pa, "form": form, "forecast": result, "chart": forecast_chart(result),
        "months_open": form.is_bound and any(request.GET.get(f"month_{p.isoformat()}") for p in window),
    })


@login_required
def account(request, pk):
    pa = get_program_account_or_404(request.user, Scope.SECURITY, pk)
    can_manage = security_accounts(request.user, manage=True).filter(pk=pa.pk).exists()
    today = timezone.localdate()
    position = positions_for([pa], today=today)[pa.pk]
    enrolment = RppEnrolment.objects.filter(program_account=pa).first()
    history = list(enrolment.changes.select_related("actor")[:20]) if enrolment else []
    allocations = list(
        BondAllocation.objects.filter(program_account=pa).select_related("bond").order_by("bond__expiry_date")
    )
    for a in allocations:
        a.in_force = a.bond.in_force_on(today)
        a.days_left = (a.bond.expiry_date - today).days
    deposits = list(CashDeposit.objects.filter(program_account=pa).select_related("created_by"))
    reductions = list(ReductionRequest.objects.filter(program_account=pa)[:10])
    notices = with_text(
        Notice.objects.filter(Q(program_account=pa) | Q(bond__allocations__program_account=pa)).distinct()
        .select_related("bond", "program_account")[:10]
    )
    requirement = position.requirement
    forecast = SecurityForecast.objects.filter(program_account=pa).first()
    next_review = services.next_annual_review(today)
    status = enrolment.status if enrolment else (pa.rpp_status if pa.rpp_status in RppStatus.values else "not_enrolled")
    return render(request, "rpp/account.html", {
        "pa": pa, "position": position, "requirement": requirement, "chart": chart_for(requirement),
        "enrolment": enrolment, "status": status, "status_label": RppStatus(status).label, "history": history,
        "allocations": allocations, "deposits": deposits, "reductions": reductions, "notices": notices,
        "can_manage": can_manage, "can_enrol": status in (RppStatus.NOT_ENROLLED, RppStatus.WITHDRAWN),
        "can_withdraw": status in (RppStatus.REQUESTED, RppStatus.ENROLLED, RppStatus.SUSPENDED),
        "has_pending_reduction": any(r.status == ReductionRequest.Status.PENDING for r in reductions),
        "warning_percent": int(services.warning_ratio() * 100), "enrol_form": EnrolForm(),
        "forecast": forecast, "next_review": next_review,
        "next_increase_due": services.increase_due_date(next_review),
        "forecast_difference": abs(forecast.bond_amount - requirement.bond_amount) if forecast and requirement else None,
        "suspends_when_short": services.suspends_when_short(requirement),
    })


def _manage_account(request, pk) -> ProgramAccount:
    return get_program_account_or_404(request.user, Scope.MANAGE_SECURITY, pk)


@login_required
@require_POST
def enrol(request, pk):
    pa = _manage_account(request, pk)
    form = EnrolForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Enter a valid estimate."))
        return redirect("rpp:account", pk=pa.pk)
    try:
        services.enrolment_request(actor=request.user, program_account=pa,
                                   monthly_estimate=form.cleaned_data.get("monthly_estimate"))
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("RPP enrolment requested for %(rm)s. Post security that covers the "
                                    "requirement to complete it.") % {"rm": pa.number})
    return redirect("rpp:account", pk=pa.pk)


@login_required
@require_POST
def withdraw(request, pk):
    pa = _manage_account(request, pk)
    try:
        services.enrolment_set_status(actor=request.user, program_account=pa, status=RppStatus.WITHDRAWN,
                                      reason=request.POST.get("reason", "")[:300] or _("Withdrawn in the portal."))
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("RPP enrolment withdrawn for %(rm)s.") % {"rm": pa.number})
    return redirect("rpp:account", pk=pa.pk)


@login_required
@require_POST
def recompute(request, pk):
    pa = _manage_account(request, pk)
    req = services.requirement_recompute(actor=request.user, program_account=pa)
    forecast = SecurityForecast.objects.get(program_account=pa)
    messages.success(request, _("Forecast refreshed: if the review were today, bond / eWSA %(bond)s or cash %(cash)s. "
                                "The binding requirement stays %(current)s until the annual review.")
                     % {"bond": format_cad(forecast.bond_amount), "cash": format_cad(forecast.cash_amount),
                        "current": format_cad(req.bond_amount)})
    return redirect("rpp:account", pk=pa.pk)


def _form_page(request, *, pa, form, title, intro, submit, back, what_if=None):
    return render(request, "rpp/form.html", {"pa": pa, "form": form, "title": title, "intro": intro,
                                             "submit": submit, "back": back, "what_if": what_if})


@login_required
def estimate(request, pk):
    pa = _manage_account(request, pk)
    form = EstimateForm(request.POST or None)
    what_if = None
    if request.method == "POST" and form.is_valid():
        try:
            what_if = services.estimate_what_if(actor=request.user, program_account=pa, **form.cleaned_data)
        except ApplicationError as exc:
            add_service_errors(form, exc)
    return _form_page(request, pa=pa, form=form, title=_("What if? Security for a monthly estimate"),
                      intro=_("See the security a given level of monthly duties and taxes would call for: a bond "
                              "covers 50% of it, a cash deposit 100%, never less than the minimum. This is a what-if: "
                              "the binding requirement changes only at enrolment, the annual review (20 October) or "
                              "a reduction decision."),
                      submit=_("Show the what-if"), back=reverse("rpp:account", args=[pa.pk]), what_if=what_if)


@login_required
def reduction(request, pk):
    pa = _manage_account(request, pk)
    form = ReductionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.reduction_request(actor=request.user, program_account=pa, **form.cleaned_data)
        except ApplicationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("Your reduction request was sent for review."))
            return redirect("rpp:account", pk=pa.pk)
    return _form_page(request, pa=pa, form=form, title=_("Request a lower security amount"),
                      intro=_("CBSA reviews the request. Until it decides, the computed requirement applies."),
                      submit=_("Send the request"), back=reverse("rpp:account", args=[pa.pk]))


@login_required
def bond_create(request):
    acting = _acting_or_404(request)
    accounts = list(_importer_accounts(request.user, acting, manage=True))
    if not accounts:
        raise Http404
    form = BondForm(request.POST or None, accounts=accounts)
    chosen = request.GET.get("account")
    if request.method != "POST" and chosen:
        back = reverse("rpp:account", args=[chosen]) if any(str(pa.pk) == chosen for pa in accounts) else reverse("rpp:overview")
    else:
        back = reverse("rpp:overview")
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            bond = services.bond_record(
                actor=request.user, business=acting, kind=data["kind"], surety_name=data["surety_name"],
                bond_number=data["bond_number"], amount=data["amount"], effective_date=data["effective_date"],
                expiry_date=data["expiry_date"], allocations=data["allocations"],
            )
        except ApplicationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("Bond %(number)s recorded.") % {"number": bond.bond_number})
            first = data["allocations"][0][0]
            return redirect("rpp:account", pk=first.pk)
    return render(request, "rpp/bond_form.html", {"form": form, "acting": acting, "back": back,
                                                  "bond_max": services.maximum()})


@login_required
def deposit_create(request):
    acting = _acting_or_404(request)
    accounts = _importer_accounts(request.user, acting, manage=True)
    if not accounts.exists():
        raise Http404
    initial = {"program_account": request.GET.get("account")} if request.GET.get("account") else None
    form = DepositForm(request.POST or None, accounts=accounts, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            deposit = services.cash_deposit_record(actor=request.user, **form.cleaned_data)
        except ApplicationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("Cash deposit of %(amount)s recorded.") % {"amount": format_cad(deposit.amount)})
            return redirect("rpp:account", pk=deposit.program_account_id)
    return _form_page(request, pa=None, form=form, title=_("Record a cash security deposit"),
                      intro=_("Cash security is held by CBSA: it is kept apart from payments and never used to pay debts."),
                      submit=_("Record the deposit"), back=reverse("rpp:overview"))


# --- Staff: reduction reviews -------------------------------------------------------------------

@cbsa_officer_required
def staff_reductions(request):
    pending = ReductionRequest.objects.filter(status=ReductionRequest.Status.PENDING).select_related(
        "program_account__business", "requirement", "requested_by"
    ).order_by("requested_at")
    return render(request, "rpp/staff_reductions.html", {"pending": pending})


@cbsa_officer_required
def staff_reduction_decide(request, pk):
    rr = get_object_or_404(ReductionRequest.objects.select_related("program_account__business", "requirement"), pk=pk)
    form = ReductionDecisionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.reduction_decide(actor=request.user, reduction=rr, approve=data["decision"] == "approve",
                                      approved_amount=data.get("approved_amount"), note=data.get("note", ""))
        except ApplicationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("The reduction request was decided."))
            return redirect("rpp:staff-reductions")
    return render(request, "rpp/staff_reduction_decide.html", {"rr": rr, "form": form})

