"""Browser pages for CADs: list, detail, draft form with live totals, submit, correct/adjust,
withdraw, CSV upload.

Views are thin: every CAD is found through ``declarations.selectors`` (the access gate; anything
outside it answers 404), every change goes through one service, and a service's
``ApplicationError`` becomes form errors so nothing the user typed is lost. A broker works for
the importer chosen in the account switcher, within the declarations scopes of its delegation.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import FieldDoesNotExist
from django.core.paginator import Paginator
from django.db import transaction
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from accounts.access import can, program_accounts_for
from accounts.acting import get_acting_for
from accounts.models import ProgramAccount
from accounts.roles import Scope
from carm_portal import outbox, pdf
from carm_portal.conf import carm
from carm_portal.exceptions import ApplicationError
from carm_portal.money import format_cad

from . import cad_pdf as cad_documents
from . import deadlines, payment_timing, selectors, services, tasks
from .calculation import Totals
from .forms import (
    AmendForm,
    CadFilterForm,
    CadHeaderForm,
    CsvUploadForm,
    WithdrawForm,
    apply_service_errors,
    line_formset,
    line_initial,
)
from .models import CAD, CADLine, CADVersion, CsvUpload

PAGE_SIZE = 25


def _async_upload_lines() -> int:
    return carm("CAD_UPLOAD_ASYNC_LINES")
TOTAL_KINDS = [
    ("vfd", gettext_lazy("Value for duty")), ("duty", gettext_lazy("Customs duty")),
    ("sima", gettext_lazy("SIMA duty")), ("excise_duty", gettext_lazy("Excise duty")),
    ("excise_tax", gettext_lazy("Excise tax")), ("gst", gettext_lazy("GST")),
    ("duties_and_taxes", gettext_lazy("Duties and taxes")),
]


# --- Access helpers ---------------------------------------------------------------------------------

def _acting_accounts(request, scope: Scope):
    """(acting-for importer, its RM accounts the user may use for ``scope``); 404 when there are none."""
    acting = get_acting_for(request)
    if acting is None:
        if not program_accounts_for(request.user, scope).exists():
            raise Http404
        return None, ProgramAccount.objects.none()
    accounts = program_accounts_for(request.user, scope).filter(business=acting).order_by("number")
    if not accounts.exists():
        raise Http404
    return acting, accounts


def _choose_client(request):
    return render(request, "declarations/choose_client.html", {})


def _cad_or_404(request, pk, scope: Scope = Scope.DECLARATIONS) -> CAD:
    return selectors.get_cad_for_user_or_404(request.user, pk, scope)


def _totals_rows(totals: Totals):
    values = totals.as_dict()
    return [(label, values[key]) for key, label in TOTAL_KINDS]


_MONEY_FIELDS = {"vfd", "duty", "sima", "excise_duty", "excise_tax", "gst", "duties_and_taxes"}


def _diff_value(field: str, value):
    if value in (None, ""):
        return "—"
    return format_cad(value) if field in _MONEY_FIELDS else value


def _field_label(field: str) -> str:
    try:
        return str(CADLine._meta.get_field(field).verbose_name)
    except FieldDoesNotExist:  # a field of an older snapshot, since removed
        return field


def _diff_display(diff) -> tuple[list[dict], list[tuple]]:
    """A version's stored diff (codes and plain decimals) in the reader's language: field labels,
    amounts through the money format. (lines, totals)."""
    if not isinstance(diff, dict):
        return [], []
    lines = []
    for change in diff.get("lines", []):
        pairs = [(_field_label(f), _diff_value(f, pair[0]), _diff_value(f, pair[1]))
                 for f, pair in (change.get("changes") or {}).items()]
        lines.append({**change, "pairs": pairs})
    labels = dict(TOTAL_KINDS)
    totals = [(labels.get(kind, kind), _diff_value(kind, t[0]), _diff_value(kind, t[1]))
              for kind, t in (diff.get("totals") or {}).items()]
    return lines, totals


def _is_correction(cad: CAD, today=None) -> tuple[bool, object]:
    today = today or timezone.localdate()
    return deadlines.is_correction(cad, today), deadlines.correction_last_day(cad)


# --- List -----------------------------------------------------------------------------------------

@login_required
def cad_list(request):
    acting, accounts = _acting_accounts(request, Scope.DECLARATIONS)
    if acting is None:
        return _choose_client(request)
    accounts = list(accounts)
    form = CadFilterForm(request.GET or None, accounts=accounts)
    if form.is_bound:
        form.is_valid()
    qs = selectors.cads_for(request.user, Scope.DECLARATIONS, **form.selector_kwargs()).filter(
        program_account__business=acting
    )
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    today = timezone.localdate()
    for cad in page.object_list:
        cad.late = cad.is_late(today)
        cad.payment = payment_timing.shown(cad, today=today)
    query = request.GET.copy()
    query.pop("page", None)
    can_file = program_accounts_for(request.user, Scope.SUBMIT_CADS).filter(business=acting).exists()
    return render(request, "declarations/cad_list.html", {
        "acting": acting, "form": form, "page": page, "query": query.urlencode(), "can_file": can_file,
        "filtered": any(v for k, v in request.GET.items() if k != "page"),
    })


# --- Detail ---------------------------------------------------------------------------------------

@login_required
def cad_detail(request, pk):
    cad = _cad_or_404(request, pk)
    user = request.user
    today = timezone.localdate()
    versions = list(selectors.cad_versions(cad))
    pending = any(v.status == CADVersion.Status.PENDING_REVIEW for v in versions)
    may_submit = can(user, Scope.SUBMIT_CADS, cad.program_account)
    may_adjust = can(user, Scope.ADJUST_CADS, cad.program_account)
    accepted = cad.status == CAD.Status.ACCEPTED
    entries = list(selectors.cad_ledger_entries(cad))
    is_correction, deadline = _is_correction(cad, today)
    for version in versions:
        version.totals_rows = _totals_rows(version.totals)
        version.diff_lines, version.diff_totals = _diff_display(version.diff)
    lines = list(selectors.cad_lines(cad))
    for line in lines:
        line.duty_percent = None if line.duty_rate is None else f"{(line.duty_rate * 100).normalize():f}"
        line.excise_total = line.excise_duty + line.excise_tax
    return render(request, "declarations/cad_detail.html", {
        "cad": cad, "lines": lines, "versions": versions,
        "totals": _totals_rows(cad.totals), "entries": entries,
        "ledger_total": sum((e.amount for e in entries), Decimal("0.00")),
        "late": cad.is_late(today), "today": today, "payment": payment_timing.shown(cad, today=today),
        "can_edit": cad.is_editable and may_submit,
        "can_amend": accepted and may_adjust and not pending,
        "can_withdraw": cad.status != CAD.Status.WITHDRAWN and not pending
        and (may_adjust if accepted else may_submit),
        "is_correction": is_correction, "correction_deadline": deadline, "pending": pending,
    })


# --- Draft create / edit ------------------------------------------------------------------------------

def _with_extra_line(data):
    """The POST data with one more (blank) line: the no-JavaScript "Add a line" button."""
    data = data.copy()
    total = int(data.get("lines-TOTAL_FORMS") or 0)
    data["lines-TOTAL_FORMS"] = str(total + 1)
    return data


def _form_page(request, template: str, context: dict):
    context.setdefault("calculate_url", reverse("cad_calculate"))
    return render(request, template, context)


def _payment_warnings(header_form, accounts) -> list[dict]:
    """Before filing: each RM account offered that had no RPP on the release date typed (today
    if none yet), with the pay-at-release warning and what enrolment would change."""
    today = timezone.localdate()
    data = header_form.cleaned_data if header_form.is_bound and hasattr(header_form, "cleaned_data") else {}
    release = data.get("release_date") or today
    cad_type = data.get("cad_type") or CAD.Type.REGULAR
    accounts = list(accounts)
    statuses = payment_timing.rpp_statuses_on((pa, release) for pa in accounts)
    return [
        {"account": pa, "text": payment_timing.warning_text(release, cad_type, today=today)}
        for pa in accounts
        if payment_timing.timing_for_status(statuses[(pa.pk, release)]) == payment_timing.ON_RELEASE
    ]


@login_required
def cad_create(request):
    acting, accounts = _acting_accounts(request, Scope.SUBMIT_CADS)
    if acting is None:
        return _choose_client(request)
    data = request.POST if request.method == "POST" else None
    if data is not None and "add_line" in data:
        data = _with_extra_line(data)
    header_form = CadHeaderForm(data, accounts=accounts, initial={
        "program_account": accounts.first(), "idempotency_key": uuid.uuid4().hex,
        "release_date": timezone.localdate(), "direct_shipment_date": timezone.localdate(),
    })
    formset = line_formset(data, initial=None if data is not None else [{}])
    if data is not None and "add_line" not in data and header_form.is_valid() and formset.is_valid():
        program_account = header_form.cleaned_data["program_account"]
        key = header_form.cleaned_data.get("idempotency_key") or None
        filing = request.POST.get("action") == "file"
        service = services.cad_file if filing else services.cad_create_draft
        try:
            cad = service(actor=request.user, program_account=program_account, lines=formset.service_lines(),
                          idempotency_key=key, **header_form.header())
        except ApplicationError as exc:
            apply_service_errors(exc, header_form, formset)
        else:
            _filed_message(request, cad, filing)
            return redirect("cad_detail", pk=cad.pk)
    return _form_page(request, "declarations/cad_form.html", {
        "header_form": header_form, "formset": formset, "acting": acting, "cad": None,
        "payment_warnings": _payment_warnings(header_form, accounts), "many_accounts": len(accounts) > 1,
    })


def _filed_message(request, cad: CAD, filing: bool) -> None:
    if not filing:
        messages.success(request, _("Draft CAD %(number)s was saved.") % {"number": cad.transaction_number})
    elif cad.status == CAD.Status.ACCEPTED:
        messages.success(request, _("CAD %(number)s was submitted and accepted: %(amount)s charged.")
                         % {"number": cad.transaction_number, "amount": format_cad(cad.dt_total)})
    else:
        messages.success(request, _("CAD %(number)s was submitted.") % {"number": cad.transaction_number})
    if filing and cad.pays_on_release:
        messages.warning(request, _("Pay-at-release CAD: its duties and taxes are due on release, %(date)s.")
                         % {"date": cad.release_date.isoformat()})


@login_required
def cad_edit(request, pk):
    cad = _cad_or_404(request, pk, Scope.SUBMIT_CADS)
    if not cad.is_editable:
        messages.info(request, _("Only a draft or a rejected CAD can be edited; file a correction instead."))
        return redirect("cad_detail", pk=cad.pk)
    data = request.POST if request.method == "POST" else None
    if data is not None and "add_line" in data:
        data = _with_extra_line(data)
    initial = {key: getattr(cad, key) for key in CadHeaderForm.base_fields if hasattr(cad, key)}
    header_form = CadHeaderForm(data, accounts=ProgramAccount.objects.none(), with_number=False, initial=initial)
    formset = line_formset(data, initial=None if data is not None else [
        line_initial(services.raw_line(ln)) for ln in selectors.cad_lines(cad)
    ] or [{}])
    if data is not None and "add_line" not in data and header_form.is_valid() and formset.is_valid():
        filing = request.POST.get("action") == "file"
        try:
            # Filing is all or nothing: a CAD that cannot be submitted keeps its stored draft.
            with transaction.atomic():
                cad = services.cad_update_draft(actor=request.user, cad=cad, lines=formset.service_lines(),
                                                **header_form.header())
                if filing:
                    cad = services.cad_submit(actor=request.user, cad=cad)
        except ApplicationError as exc:
            apply_service_errors(exc, header_form, formset)
        else:
            _filed_message(request, cad, filing)
            return redirect("cad_detail", pk=cad.pk)
    return _form_page(request, "declarations/cad_form.html", {
        "header_form": header_form, "formset": formset, "acting": cad.program_account.business, "cad": cad,
        "payment_warnings": _payment_warnings(header_form, [cad.program_account]),
    })


@login_required
@require_POST
def cad_submit(request, pk):
    cad = _cad_or_404(request, pk, Scope.SUBMIT_CADS)
    try:
        cad = services.cad_submit(actor=request.user, cad=cad)
    except ApplicationError as exc:
        messages.error(request, exc.message)
        for key, errors in exc.field_errors.items():
            for error in errors if isinstance(errors, list) else [errors]:
                messages.error(request, f"{key}: {error}")
        return redirect("cad_edit" if cad.is_editable else "cad_detail", pk=cad.pk)
    _filed_message(request, cad, True)
    return redirect("cad_detail", pk=cad.pk)


@login_required
@require_POST
def cad_calculate(request):
    """Live totals for the CAD form (JSON): the same parsing as the form, then ``cad_calculate``."""
    cad = None
    accounts = ProgramAccount.objects.none()
    if request.POST.get("cad"):
        cad = _cad_or_404(request, request.POST["cad"])
    else:
        _acting, accounts = _acting_accounts(request, Scope.SUBMIT_CADS)
    formset = line_formset(request.POST)
    errors: dict[str, list[str]] = {}
    if cad is not None:
        header = services.header_of(cad)
    else:
        header_form = CadHeaderForm(request.POST, accounts=ProgramAccount.objects.none(), with_number=False)
        header_form.is_valid()
        errors.update({name: list(errs) for name, errs in header_form.errors.items() if name != "__all__"})
        header = {k: v for k, v in getattr(header_form, "cleaned_data", {}).items() if k != "idempotency_key"}
    formset.is_valid()
    kept = []
    for form in formset.forms:
        if not form.is_valid():
            errors.update({f"{form.prefix}-{name}": list(errs) for name, errs in form.errors.items()
                           if name != "__all__"})
            continue
        if formset.can_delete and form.cleaned_data.get("DELETE"):
            continue
        kept.append(form)
    result = services.cad_calculate(header=header, lines=[f.service_line() for f in kept])
    for key, messages_ in result.field_errors.items():
        if key.startswith("lines.") and key.count(".") == 2:
            _lines, index, name = key.split(".")
            if index.isdigit() and int(index) < len(kept):
                name = {"duty_rate": "duty_rate_percent"}.get(name, name)
                errors.setdefault(f"{kept[int(index)].prefix}-{name}", []).extend(messages_)
                continue
        errors.setdefault(key, []).extend(messages_)
    lines = {}
    for form, line in zip(kept, result.lines, strict=False):
        a = line.amounts
        lines[form.prefix] = None if a is None else {
            "vfd": str(a.vfd), "duty": str(a.duty), "gst": str(a.gst),
            "other": str(a.sima + a.excise_duty + a.excise_tax), "duties_and_taxes": str(a.duties_and_taxes),
            "duty_rate": None if line.duty_rate is None else f"{(line.duty_rate * 100).normalize():f}",
            "exchange_rate": None if line.exchange_rate is None else str(line.exchange_rate),
        }
        if a is not None:  # the same amounts as the reader writes them (the page shows these)
            lines[form.prefix]["display"] = {
                k: format_cad(lines[form.prefix][k]) for k in ("vfd", "duty", "gst", "other", "duties_and_taxes")}
    return JsonResponse({
        "ok": not errors, "totals": {k: str(v) for k, v in result.totals.as_dict().items()},
        "totals_display": {k: format_cad(v) for k, v in result.totals.as_dict().items()},
        "lines": lines, "errors": errors,
        "payment_warning": _live_payment_warning(request, cad, accounts, header),
    })


def _live_payment_warning(request, cad, accounts, header) -> str | None:
    """The pay-at-release warning for the RM account and release date in the form ("" when RPP
    applies; None when no account is chosen: the page keeps what it shows)."""
    if cad is not None:
        account = cad.program_account
    else:
        chosen = request.POST.get("program_account", "")
        account = accounts.filter(pk=int(chosen)).first() if chosen.isdigit() else None
    if account is None:
        return None
    today = timezone.localdate()
    release = header.get("release_date") or today
    if payment_timing.timing_on(account, release) != payment_timing.ON_RELEASE:
        return ""
    return payment_timing.warning_text(release, header.get("cad_type") or CAD.Type.REGULAR, today=today)


# --- Correct / adjust, withdraw ---------------------------------------------------------------------

@login_required
def cad_amend(request, pk):
    cad = _cad_or_404(request, pk, Scope.ADJUST_CADS)
    if cad.status != CAD.Status.ACCEPTED:
        messages.info(request, _("Only an accepted CAD can be corrected or adjusted."))
        return redirect("cad_detail", pk=cad.pk)
    data = request.POST if request.method == "POST" else None
    if data is not None and "add_line" in data:
        data = _with_extra_line(data)
    form = AmendForm(data)
    formset = line_formset(data, initial=None if data is not None else [
        line_initial(services.raw_line(ln)) for ln in selectors.cad_lines(cad)
    ])
    is_correction, deadline = _is_correction(cad)
    if data is not None and "add_line" not in data and form.is_valid() and formset.is_valid():
        try:
            version = services.cad_amend(
                actor=request.user, cad=cad, lines=formset.service_lines(), reason_codes=form.codes(),
                legal_basis=form.cleaned_data["legal_basis"] or None,
                reason_to_believe_date=form.cleaned_data["reason_to_believe_date"],
                remarks=form.cleaned_data["remarks"],
            )
        except ApplicationError as exc:
            apply_service_errors(exc, None, formset, extra_form=form)
        else:
            if version.kind == CADVersion.Kind.CORRECTION:
                messages.success(request, _("Correction filed and approved: version %(n)d. Difference: %(amount)s.")
                                 % {"n": version.number, "amount": format_cad(version.dt_total - _previous_dt(version))})
            else:
                messages.success(request, _("Adjustment filed: version %(n)d waits for CBSA review.")
                                 % {"n": version.number})
            return redirect("cad_detail", pk=cad.pk)
    return _form_page(request, "declarations/cad_amend.html", {
        "cad": cad, "form": form, "formset": formset, "is_correction": is_correction,
        "correction_deadline": deadline, "totals": _totals_rows(cad.totals),
    })


def _previous_dt(version: CADVersion) -> Decimal:
    previous = CADVersion.objects.filter(cad_id=version.cad_id, number=version.base_number).only("dt_total").first()
    return previous.dt_total if previous else Decimal("0.00")


@login_required
def cad_withdraw(request, pk):
    cad = _cad_or_404(request, pk)
    scope = Scope.ADJUST_CADS if cad.status == CAD.Status.ACCEPTED else Scope.SUBMIT_CADS
    cad = _cad_or_404(request, pk, scope)
    if cad.status == CAD.Status.WITHDRAWN:
        messages.info(request, _("This CAD is already withdrawn."))
        return redirect("cad_detail", pk=cad.pk)
    form = WithdrawForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.cad_withdraw(actor=request.user, cad=cad, reason=form.cleaned_data["reason"])
        except ApplicationError as exc:
            apply_service_errors(exc, form, None)
        else:
            messages.success(request, _("CAD %(number)s was withdrawn.") % {"number": cad.transaction_number})
            return redirect("cad_detail", pk=cad.pk)
    return render(request, "declarations/cad_withdraw.html", {"cad": cad, "form": form})


# --- CSV upload -------------------------------------------------------------------------------------

@login_required
def cad_upload(request):
    acting, accounts = _acting_accounts(request, Scope.SUBMIT_CADS)
    if acting is None:
        return _choose_client(request)
    form = CsvUploadForm(request.POST or None, request.FILES or None, accounts=accounts,
                         initial={"program_account": accounts.first()})
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        limit = carm("UPLOAD_MAX_BYTES")
        text = None
        if upload.size > limit:
            form.add_error("file", _("The file is larger than %(mb)d MB.") % {"mb": limit // (1024 * 1024)})
        else:
            try:
                text = upload.read().decode("utf-8-sig")
            except UnicodeDecodeError:
                form.add_error("file", _("The file is not UTF-8 text. Save it as \"CSV UTF-8\" and try again."))
        if text is not None:
            upload_id = uuid.uuid4().hex
            account = form.cleaned_data["program_account"]
            lines = max(0, text.count("\n") - 1)
            CsvUpload.objects.create(upload_id=upload_id, program_account=account, uploaded_by=request.user,
                                     broker=services.broker_for(request.user, account),
                                     file_name=(upload.name or "")[:255], line_count=lines)
            tasks.write_progress(upload_id, user=request.user.pk, state="queued", done=0, total=lines,
                                 file_name=upload.name)
            if lines > _async_upload_lines():
                # Recorded, then sent: with the broker down the page says "queued" and the sweeper sends it later.
                outbox.enqueue(tasks.import_cads_csv_task.name, upload_id, request.user.pk, account.pk, text,
                               key=f"csv-upload:{upload_id}")
            else:
                tasks.run_import(upload_id, actor=request.user, program_account=account, text=text)
            return redirect("cad_upload_status", upload_id=upload_id)
    return render(request, "declarations/cad_upload.html", {"form": form, "acting": acting})


def _upload_or_404(request, upload_id: str) -> dict:
    state = tasks.read_progress(upload_id)
    if state is None or state.get("user") != request.user.pk:
        raise Http404
    return state


RESULTS_PER_PAGE = 100
UPLOADS_PER_PAGE = 25


@login_required
def cad_upload_status(request, upload_id):
    state = _upload_or_404(request, upload_id)
    upload = CsvUpload.objects.filter(upload_id=upload_id).first()
    results = None
    if upload is not None and upload.status == CsvUpload.Status.DONE:
        # Each file reference → the new transaction number, with the CAD's totals (paginated).
        results = Paginator(upload.results, RESULTS_PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "declarations/cad_upload_status.html", {
        "state": state, "upload_id": upload_id, "finished": state.get("state") in ("done", "failed"),
        "percent": int(100 * (state.get("done") or 0) / state["total"]) if state.get("total") else 0,
        "upload": upload, "page": results,
    })


@login_required
def cad_upload_history(request):
    """Uploads on the acting-for importer's RM accounts the user may see, newest first."""
    acting, accounts = _acting_accounts(request, Scope.DECLARATIONS)
    if acting is None:
        return _choose_client(request)
    uploads = (CsvUpload.objects.filter(program_account__in=accounts)
               .select_related("program_account", "uploaded_by", "broker").defer("results"))
    page = Paginator(uploads, UPLOADS_PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "declarations/cad_upload_history.html", {"acting": acting, "page": page})


@login_required
def cad_upload_progress(request, upload_id):
    state = _upload_or_404(request, upload_id)
    return JsonResponse({
        "state": state.get("state"), "done": state.get("done", 0), "total": state.get("total", 0),
        "errors": len(state.get("errors") or []), "cads": state.get("cad_count", 0),
        "finished": state.get("state") in ("done", "failed"),
    })


@login_required
@require_GET
def cad_pdf(request, pk: int):
    """The CAD as a PDF download (202 "being prepared" while the pdf worker renders it)."""
    cad = selectors.get_cad_for_user_or_404(request.user, pk, Scope.DECLARATIONS)
    stored = cad_documents.cad_pdf_or_enqueue(cad)
    if stored is None:
        return pdf.pending_page(request, back_url=reverse("cad_detail", args=[cad.pk]), back_label=_("Back to the CAD"))
    return pdf.file_response(stored, cad_documents.filename(cad))
