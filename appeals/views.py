"""Browser pages for appeals: list, new (from a CAD, a statement or an NPA), detail with a
timeline, documents, submit/withdraw, extension applications, and the CBSA review queue.

Views are thin: gated lookups (404 outside), one service call, form errors from ApplicationError.
"""

from __future__ import annotations

import mimetypes

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.acting import get_acting_for
from accounts.forms import add_service_errors
from accounts.roles import Scope
from carm_portal.exceptions import ApplicationError

from . import deadlines, notice_text, paid_or_secured, selectors, services, storage
from .forms import (
    DocumentForm,
    ExtensionForm,
    GroundsForm,
    NoteForm,
    PenaltyAppealForm,
    ReviewForm,
    S60AppealForm,
)
from .models import Appeal, AppealDocument, AppealNotice, ExtensionApplication

REVIEW_STATUSES = (Appeal.Status.SUBMITTED, Appeal.Status.ACKNOWLEDGED, Appeal.Status.ASSIGNED,
                   Appeal.Status.INFO_REQUESTED, Appeal.Status.DECISION_RENDERED)

PAGE_SIZE = 50  # appeals per page (lists and the review queue)


def _for_acting(request, qs):
    acting = get_acting_for(request)
    return qs.filter(program_account__business=acting) if acting is not None else qs


def _can_file(user, program_account_id) -> bool:
    return selectors.program_accounts_for(user, Scope.FILE_APPEALS).filter(pk=program_account_id).exists()


def _action_row(obj, today, kind):
    decided = obj.served_on if kind == "penalty" else obj.decision_date
    deadline = deadlines.make("filing", _("Filing deadline"), deadlines.appeal_deadline(decided), today)
    ext_last = deadlines.extension_last_day(decided)
    return {"obj": obj, "kind": kind, "deadline": deadline, "extension_last_day": ext_last,
            "extension_open": deadline.days_left < 0 and today <= ext_last}


@login_required
def appeal_list(request):
    today = timezone.localdate()
    user = request.user
    page = Paginator(selectors.with_list_relations(_for_acting(request, selectors.appeals_for(user)))
                     .order_by("-created_at", "-id"), PAGE_SIZE).get_page(request.GET.get("page"))
    appeals = list(page)
    rows = [{"appeal": a, "deadline": deadlines.next_deadline(a, today)} for a in appeals]
    appealed_penalties = {a.penalty_id for a in appeals if a.penalty_id}
    penalties = _for_acting(request, selectors.penalties_for(user).exclude(pk__in=Appeal.objects.filter(
        penalty__isnull=False).values("penalty_id"))).select_related("program_account")[:100]
    statements = _for_acting(request, selectors.statements_for(user).exclude(
        appeals__status__in=[s for s in Appeal.Status.values if s != Appeal.Status.WITHDRAWN])
    ).select_related("program_account", "cad")[:100]
    actions = ([_action_row(p, today, "penalty") for p in penalties if p.pk not in appealed_penalties]
               + [_action_row(s, today, "statement") for s in statements])
    actions.sort(key=lambda r: r["deadline"].date)
    extensions = _for_acting(request, selectors.extensions_for(user)).select_related("penalty", "statement")[:50]
    notices = notice_text.with_text(  # in the reader's language, not the reminder job's
        AppealNotice.objects.filter(appeal__in=[a.pk for a in appeals]).select_related("appeal__program_account")[:10])
    return render(request, "appeals/list.html", {
        "rows": rows, "page": page, "actions": actions, "extensions": extensions, "notices": notices,
        "is_cbsa": selectors.is_cbsa(user), "today": today,
    })


@login_required
def appeal_new(request):
    user = request.user
    today = timezone.localdate()
    penalty = statements_qs = None
    if request.GET.get("penalty"):
        penalty = selectors.get_penalty_for_user_or_404(user, request.GET["penalty"], Scope.FILE_APPEALS)
        existing = Appeal.objects.filter(penalty=penalty).first()
        if existing is not None and selectors.visible_appeals(user).filter(pk=existing.pk).exists():
            messages.info(request, _("This NPA already has its appeal (one appeal per notice)."))
            return redirect("appeals:detail", existing.pk)
        form = PenaltyAppealForm(request.POST or None)
        decided = penalty.served_on
    else:
        gated = selectors.statements_for(user, Scope.FILE_APPEALS).select_related("cad")
        if request.GET.get("cad"):
            statements_qs = gated.filter(cad_id=request.GET["cad"]) if str(request.GET["cad"]).isdigit() else None
        elif request.GET.get("statement"):
            first = selectors.get_statement_for_user_or_404(user, request.GET["statement"], Scope.FILE_APPEALS)
            statements_qs = gated.filter(program_account_id=first.program_account_id)
        if statements_qs is None:
            raise Http404
        statements_qs = statements_qs.exclude(
            appeals__status__in=[s for s in Appeal.Status.values if s != Appeal.Status.WITHDRAWN])
        if request.GET.get("cad") and not statements_qs.exists():
            messages.info(request, _("This CAD has no statement of adjustment open to appeal. A request for "
                                     "re-determination is against CBSA's statement of adjustment (s. 59)."))
            return redirect("appeals:list")
        initial = {"statements": [request.GET["statement"]]} if request.GET.get("statement") else {
            "statements": list(statements_qs.values_list("pk", flat=True))}
        form = S60AppealForm(request.POST or None, statements=statements_qs, initial=initial)
        decided = min((s.decision_date for s in statements_qs), default=today)
    deadline = deadlines.make("filing", _("Filing deadline"), deadlines.appeal_deadline(decided), today)
    if request.method == "POST" and form.is_valid():
        try:
            appeal = services.appeal_create(
                actor=user, penalty=penalty, statements=form.cleaned_data.get("statements") or (),
                issue=form.cleaned_data.get("issue", ""), grounds=form.cleaned_data.get("grounds", ""),
            )
        except ApplicationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("The appeal was saved as a draft. Add your documents, then file it."))
            return redirect("appeals:detail", appeal.pk)
    return render(request, "appeals/new.html", {"form": form, "penalty": penalty, "deadline": deadline})


def _timeline(appeal):
    events = [{"at": t.at, "kind": "transition", "t": t} for t in appeal.transitions.select_related("actor", "assigned_to")]
    events += [{"at": d.uploaded_at, "kind": "document", "d": d} for d in appeal.documents.select_related("uploaded_by")]
    return sorted(events, key=lambda e: e["at"])


@login_required
def appeal_detail(request, pk):
    appeal = selectors.get_appeal_for_user_or_404(request.user, pk)
    today = timezone.localdate()
    can_file = _can_file(request.user, appeal.program_account_id)
    citt = None
    if appeal.kind == Appeal.Kind.REDETERMINATION and appeal.decided_on:
        citt = deadlines.make("citt", _("Further appeal to the CITT"), deadlines.citt_deadline(appeal.decided_on), today)
    return render(request, "appeals/detail.html", {
        "appeal": appeal, "deadlines": deadlines.deadlines_for(appeal, today), "timeline": _timeline(appeal),
        "documents": appeal.documents.all(), "statements": appeal.statements.select_related("cad"),
        "can_file": can_file, "is_cbsa": selectors.is_cbsa(request.user), "citt": citt,
        "document_form": DocumentForm(), "grounds_form": GroundsForm(initial={"grounds": appeal.grounds}),
        "note_form": NoteForm(), "review_form": ReviewForm(),
        "can_edit": can_file and appeal.status in (Appeal.Status.DRAFT, Appeal.Status.REJECTED_INCOMPLETE),
        "can_upload": can_file and appeal.status in Appeal.DOCUMENT_STATUSES,
        "can_withdraw": can_file and appeal.status in Appeal.OPEN_STATUSES,
        "interest": -appeal.interest_entry.amount if appeal.interest_entry_id else None,
        "credit": -appeal.credit_entry.amount if appeal.credit_entry_id else None,
        "to_file": (paid_or_secured.for_appeal(appeal, today)
                    if appeal.status in (Appeal.Status.DRAFT, Appeal.Status.REJECTED_INCOMPLETE) else None),
    })


def _back(appeal):
    return redirect("appeals:detail", appeal.pk)


def _act(request, appeal, action, success: str):
    """Run one service for the appeal; a broken rule shows as a message and changes nothing."""
    try:
        action()
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, success)
    return _back(appeal)


@login_required
@require_POST
def appeal_submit(request, pk):
    appeal = selectors.get_appeal_for_user_or_404(request.user, pk)
    form = GroundsForm(request.POST)
    form.is_valid()
    return _act(request, appeal, lambda: services.appeal_submit(
        actor=request.user, appeal=appeal, grounds=form.cleaned_data.get("grounds")),
        _("Your appeal was filed with CBSA."))


@login_required
@require_POST
def appeal_save(request, pk):
    appeal = selectors.get_appeal_for_user_or_404(request.user, pk)
    form = GroundsForm(request.POST)
    form.is_valid()
    return _act(request, appeal, lambda: services.appeal_update(
        actor=request.user, appeal=appeal, grounds=form.cleaned_data.get("grounds", "")),
        _("The grounds were saved."))


@login_required
@require_POST
def appeal_withdraw(request, pk):
    appeal = selectors.get_appeal_for_user_or_404(request.user, pk)
    form = NoteForm(request.POST)
    form.is_valid()
    return _act(request, appeal, lambda: services.appeal_withdraw(
        actor=request.user, appeal=appeal, note=form.cleaned_data.get("note", "")),
        _("The appeal was withdrawn."))


@login_required
@require_POST
def document_upload(request, pk):
    appeal = selectors.get_appeal_for_user_or_404(request.user, pk)
    try:
        document = services.document_add(actor=request.user, appeal=appeal, uploaded=request.FILES.get("file"))
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("%(name)s was added.") % {"name": document.original_name})
    return _back(appeal)


def _file_response(stored_name: str, filename: str, content_type: str | None = None):
    try:
        path = storage.path_of(stored_name)
    except ValueError:
        raise Http404 from None
    if not path.exists():
        raise Http404
    content_type = content_type or mimetypes.guess_type(filename)[0] or "application/octet-stream"
    # Always a download, never rendered in the portal's origin (a PDF or image opened inline
    # would run with the portal's cookies in some viewers).
    response = FileResponse(open(path, "rb"), content_type=content_type, as_attachment=True, filename=filename)  # noqa: SIM115
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response


@login_required
def document_download(request, pk):
    try:
        document = AppealDocument.objects.select_related("appeal").get(pk=pk)
    except (AppealDocument.DoesNotExist, ValueError):
        raise Http404 from None
    selectors.get_appeal_for_user_or_404(request.user, document.appeal_id)
    return _file_response(document.stored_name, document.original_name, document.content_type)


@login_required
def letter_download(request, pk):
    appeal = selectors.get_appeal_for_user_or_404(request.user, pk)
    if not appeal.letter_file:
        raise Http404
    return _file_response(appeal.letter_file, f"decision-appeal-{appeal.pk}.pdf", "application/pdf")


@login_required
def penalty_detail(request, pk):
    penalty = selectors.get_penalty_for_user_or_404(request.user, pk)
    today = timezone.localdate()
    appeal = selectors.visible_appeals(request.user).filter(penalty=penalty).first()
    return render(request, "appeals/penalty.html", {
        "penalty": penalty, "row": _action_row(penalty, today, "penalty"), "appeal": appeal,
        "can_file": _can_file(request.user, penalty.program_account_id),
    })


@login_required
def extension_new(request):
    user = request.user
    penalty = statement = None
    if request.GET.get("penalty"):
        penalty = selectors.get_penalty_for_user_or_404(user, request.GET["penalty"], Scope.FILE_APPEALS)
    elif request.GET.get("statement"):
        statement = selectors.get_statement_for_user_or_404(user, request.GET["statement"], Scope.FILE_APPEALS)
    else:
        raise Http404
    subject = penalty or statement
    row = _action_row(subject, timezone.localdate(), "penalty" if penalty else "statement")
    form = ExtensionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.extension_request(actor=user, penalty=penalty, statement=statement,
                                       reasons=form.cleaned_data["reasons"])
        except ApplicationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("Your extension application was sent to CBSA."))
            return redirect("appeals:list")
    return render(request, "appeals/extension_new.html", {"form": form, "subject": subject, "row": row})


# --- CBSA review queue ---------------------------------------------------------------------------

def _require_cbsa(request):
    if not selectors.is_cbsa(request.user):
        raise Http404


@login_required
def review_queue(request):
    _require_cbsa(request)
    today = timezone.localdate()
    status = request.GET.get("status", "")
    qs = Appeal.objects.filter(status__in=REVIEW_STATUSES)
    if status in Appeal.Status.values:
        qs = Appeal.objects.filter(status=status)
    page = Paginator(selectors.with_list_relations(qs.select_related("assigned_to")).order_by("submitted_at", "id"),
                     PAGE_SIZE).get_page(request.GET.get("page"))
    rows = [{"appeal": a, "deadline": deadlines.next_deadline(a, today)} for a in page]
    extensions = (ExtensionApplication.objects.filter(status=ExtensionApplication.Status.REQUESTED)
                  .select_related("program_account", "penalty", "statement"))
    return render(request, "appeals/review_queue.html", {
        "rows": rows, "page": page, "query": f"status={status}" if status else "", "extensions": extensions,
        "status": status, "statuses": Appeal.Status.choices,
    })


@login_required
@require_POST
def review_action(request, pk):
    _require_cbsa(request)
    appeal = selectors.get_appeal_for_user_or_404(request.user, pk)
    form = ReviewForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Check the form: %(errors)s") % {"errors": form.errors.as_text()})
        return _back(appeal)
    data = form.cleaned_data
    action, note, actor = data["action"], data.get("note", ""), request.user
    try:
        if action == "acknowledge":
            services.appeal_acknowledge(actor=actor, appeal=appeal, note=note)
        elif action == "assign":
            if data.get("officer") is None:
                raise ApplicationError(_("Choose the officer."))
            services.appeal_assign(actor=actor, appeal=appeal, officer=data["officer"], note=note)
        elif action == "request_info":
            services.appeal_request_info(actor=actor, appeal=appeal, note=note)
        elif action == "reject_incomplete":
            services.appeal_reject_incomplete(actor=actor, appeal=appeal, note=note)
        elif action == "decide":
            services.appeal_decide(actor=actor, appeal=appeal, outcome=data.get("outcome", ""), reasons=note,
                                   amount=data.get("amount"))
        elif action == "close":
            services.appeal_close(actor=actor, appeal=appeal, note=note)
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Done: the appeal is now %(status)s.")
                         % {"status": Appeal.objects.get(pk=appeal.pk).get_status_display().lower()})
    return _back(appeal)


@login_required
@require_POST
def extension_decide(request, pk):
    _require_cbsa(request)
    try:
        application = ExtensionApplication.objects.get(pk=pk)
    except (ExtensionApplication.DoesNotExist, ValueError):
        raise Http404 from None
    try:
        services.extension_decide(actor=request.user, application=application,
                                  grant=request.POST.get("decision") == "grant", note=request.POST.get("note", ""))
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("The extension application was decided."))
    return redirect(reverse("appeals:review"))

