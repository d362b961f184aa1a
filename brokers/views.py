"""The broker board page, its CSV export, and the switcher's client search (type-ahead)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.core import signing
from django.core.paginator import Paginator
from django.http import Http404, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from accounts.access import businesses_for
from accounts.acting import get_acting_for, set_acting_for
from accounts.models import Business
from carm_portal.csv_export import csv_response
from carm_portal.exceptions import ApplicationError

from . import board as b
from .recent import recent_clients, remember

SWITCHER_LIMIT = 20


def _require_broker(user) -> None:
    """The board is a broker firm employee's page: 404 for anyone else (never 403)."""
    if not b.broker_firm_ids(user):
        raise Http404


def _page_number(request) -> int:
    try:
        return max(1, int(request.GET.get("page", "1")))
    except ValueError:
        return 1


def _page_size(request) -> int:
    try:
        size = int(request.GET.get("size", b.PAGE_SIZE))
    except ValueError:
        return b.PAGE_SIZE
    return min(max(size, 10), b.MAX_PAGE_SIZE)


@login_required
@require_GET
def board(request):
    _require_broker(request.user)
    today = timezone.localdate()
    query = b.BoardQuery.from_params(request.GET)
    size = _page_size(request)
    number = _page_number(request)
    result = b.board(request.user, query, today=today, offset=(number - 1) * size, limit=size)
    pages = max(1, -(-result.total // size))
    if number > pages:  # past the end (the set shrank): the last page
        number = pages
        result = b.board(request.user, query, today=today, offset=(number - 1) * size, limit=size)
    paginator = Paginator(range(result.total), size)
    page = paginator.get_page(number)
    base = query.params()
    if size != b.PAGE_SIZE:
        base["size"] = str(size)

    def link(**changes) -> str:
        params = {**base, **{k: str(v) for k, v in changes.items() if v is not None}}
        return "?" + urlencode(params) if params else "?"

    headers = []
    for column in b.COLUMNS:
        current = query.sort_key == column.key
        if current:
            next_sort = column.key if query.descending else f"-{column.key}"
            aria = "descending" if query.descending else "ascending"
        else:
            next_sort, aria = column.key, ""
        params = {k: v for k, v in base.items() if k != "sort"}
        if next_sort != b.DEFAULT_SORT:
            params["sort"] = next_sort
        headers.append({"key": column.key, "label": column.label, "aria": aria,
                        "url": "?" + urlencode(params) if params else "?"})
    filter_links = []
    for name, label in b.FILTERS.items():
        on = name in query.filters
        params = {k: v for k, v in base.items() if k != name}
        if not on:
            params[name] = "1"
        filter_links.append({"name": name, "label": label, "on": on,
                             "url": "?" + urlencode(params) if params else "?"})
    return render(request, "brokers/board.html", {
        "rows": result.rows,
        "total": result.total,
        "query": query,
        "page": page,
        "pages": pages,
        "headers": headers,
        "filter_links": filter_links,
        "prev_url": link(page=number - 1) if page.has_previous() else "",
        "next_url": link(page=number + 1) if page.has_next() else "",
        "csv_url": reverse("brokers:board-csv") + ("?" + urlencode(query.params()) if query.params() else ""),
        "acting": get_acting_for(request),
        "today": today,
        "expiring_days": b.EXPIRING_DAYS,
        "recent": recent_clients(request),
        "here": request.get_full_path(),
        "page_clients": list(dict.fromkeys(r.business.pk for r in result.rows)),
        "can_bulk_request": _can_bulk_request(request.user),
    })


def _can_bulk_request(user) -> bool:
    from .bulk import requesting_firms

    return requesting_firms(user).exists()


CSV_HEADER = ["client", "bn", "rm_account", "readiness", "amount_due", "due_date", "overdue",
              "security_required", "security_posted", "security_gap", "forecast_gap", "cads_due_5_business_days", "cads_late",
              "open_appeals", "nearest_appeal_deadline", "delegation_scopes", "delegation_expires"]


def _iso(value) -> str:
    return "" if value is None else value.isoformat()


def _csv_rows(rows: Iterable[b.BoardRow]) -> Iterator[list]:
    yield CSV_HEADER
    for r in rows:
        yield [r.business.display_name, r.business.bn9, r.program_account.number, r.score,
               r.amount_due, _iso(r.due_date), r.overdue, r.security_required,
               r.security_posted, r.security_gap, r.forecast_gap, r.cads_due_soon, r.cads_late,
               r.appeals_open, _iso(r.appeal_deadline), " ".join(r.delegation_scopes),
               _iso(r.delegation_expires)]


@login_required
@require_GET
def board_csv(request):
    """Every row of the filtered, searched, sorted board (no pagination); money as plain decimals."""
    _require_broker(request.user)
    today = timezone.localdate()
    query = b.BoardQuery.from_params(request.GET)
    rows = b.everything(request.user, query, today=today)
    return csv_response(_csv_rows(rows), f"broker-board-{today:%Y-%m-%d}.csv")


@login_required
@require_GET
def client_search(request):
    """The switcher's type-ahead: up to 20 importers the user may act for, by name, BN or RM number.

    JSON ``{"results": [{"id", "name", "bn"}], "more": bool}``; an empty query gives the recent clients.
    """
    search = (request.GET.get("q") or "").strip()[: b.SEARCH_MAX]
    allowed = businesses_for(request.user)
    if not search:
        found = recent_clients(request)
        more = False
    else:
        compact = "".join(ch for ch in search if ch.isalnum()).upper()
        from django.db.models import Q

        cond = Q(legal_name__icontains=search) | Q(operating_name__icontains=search)
        if compact:
            cond |= Q(bn9__startswith=compact) | Q(program_accounts__number__startswith=compact)
        found = list(
            allowed.filter(id__in=Business.objects.filter(cond).values("id"))
            .order_by("legal_name", "id").only("id", "legal_name", "operating_name", "bn9")[: SWITCHER_LIMIT + 1]
        )
        more = len(found) > SWITCHER_LIMIT
        found = found[:SWITCHER_LIMIT]
    return JsonResponse({
        "results": [{"id": x.pk, "name": x.display_name, "bn": x.bn9} for x in found],
        "more": more,
    })


def _safe_next(request, default: str) -> str:
    target = request.POST.get("next") or default
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                       require_https=request.is_secure()):
        return target
    return default


@login_required
@require_POST
def act_for(request):
    """POST business=<id>: act for that importer (through the gate: 404 outside) and remember it
    among the recent clients; back to ``next``."""
    try:
        business = businesses_for(request.user).get(pk=request.POST.get("business"))
    except (Business.DoesNotExist, ValueError, TypeError):
        raise Http404 from None
    set_acting_for(request, business)
    remember(request, business)
    from django.contrib import messages

    messages.success(request, _("You are now acting for %(name)s.") % {"name": business.display_name})
    return HttpResponseRedirect(_safe_next(request, reverse("dashboard")))


@login_required
@require_GET
def worklists(request):
    """One cross-client worklist per tab (``kind``), 50 rows a page, each row with act-for."""
    from . import worklists as w

    _require_broker(request.user)
    today = timezone.localdate()
    kind = request.GET.get("kind") or w.DEFAULT_KIND
    if kind not in w.KINDS:
        kind = w.DEFAULT_KIND
    rows = w.worklist(request.user, kind, today=today)
    page = Paginator(rows, b.PAGE_SIZE).get_page(request.GET.get("page"))

    def link(**params) -> str:
        return "?" + urlencode({"kind": kind, **params})

    return render(request, "brokers/worklists.html", {
        "kind": kind,
        "kind_label": w.KINDS[kind],
        "tabs": [{"kind": k, "label": label, "on": k == kind, "url": "?" + urlencode({"kind": k})}
                 for k, label in w.KINDS.items()],
        "rows": page.object_list,
        "page": page,
        "total": len(rows),
        "prev_url": link(page=page.previous_page_number()) if page.has_previous() else "",
        "next_url": link(page=page.next_page_number()) if page.has_next() else "",
        "acting": get_acting_for(request),
        "today": today,
        "here": request.get_full_path(),
    })


# --- Bulk delegation requests -------------------------------------------------------------------

BULK_SALT = "brokers.bulk.preview"
BULK_PREVIEW_MAX_AGE = 3600  # seconds a preview may wait for its Submit


def _bulk_context(firm, **extra) -> dict:
    from . import bulk

    totals = extra.get("totals") or {}
    done = extra.get("written")
    total_rows = [{"key": str(k), "n": totals.get(str(k), 0),
                   "label": bulk.DONE_LABEL if done and k == bulk.Outcome.REQUEST else label}
                  for k, label in bulk.OUTCOME_LABELS.items() if totals.get(str(k))]
    return {"firm": firm, "max_rows": bulk.MAX_ROWS, "max_kb": bulk.MAX_BYTES // 1000,
            "total_rows": total_rows, **extra}


@login_required
def bulk_request(request):
    """Upload or paste many BN9s / RM numbers; a preview of each row's outcome, then Submit (all or
    nothing); the results page lists each row's outcome with totals. The firm's BAM only (404)."""
    from carm_portal import idempotency

    from . import bulk
    from .forms import BulkRequestForm

    firm = bulk.firm_for(request.user, request.POST.get("firm") or request.GET.get("firm"))
    if firm is None:
        raise Http404
    if request.method == "POST" and request.POST.get("action") == "submit":
        return _bulk_submit(request, firm)
    form = BulkRequestForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid() and not form.errors:
        terms = form.terms()
        results = bulk.evaluate(firm, form.rows, terms)
        expected = [r.row.line for r in results if r.outcome == bulk.Outcome.REQUEST]
        payload = signing.dumps({"firm": firm.pk, "rows": [r.to_json() for r in form.rows],
                                 "terms": terms.to_json(), "expected": expected}, salt=BULK_SALT, compress=True)
        return render(request, "brokers/bulk_request.html", _bulk_context(
            firm, mode="preview", results=[r.to_json() for r in results], totals=bulk.totals(results),
            to_request=len(expected), terms=terms, payload=payload, idempotency_key=idempotency.new_form_key()))
    status = 400 if request.method == "POST" else 200
    return render(request, "brokers/bulk_request.html", _bulk_context(firm, mode="form", form=form), status=status)


def _bulk_submit(request, firm):
    from carm_portal import idempotency

    from . import bulk
    from .forms import BulkRequestForm

    def again(message: str):
        form = BulkRequestForm()
        return render(request, "brokers/bulk_request.html",
                      _bulk_context(firm, mode="form", form=form, error=message), status=400)

    raw = request.POST.get("payload", "")
    try:
        data = signing.loads(raw, salt=BULK_SALT, max_age=BULK_PREVIEW_MAX_AGE)
        rows = [bulk.Row.from_json(r) for r in data["rows"]]
        terms = bulk.Terms.from_json(data["terms"])
        expected = {int(n) for n in data["expected"]}
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        return again(_("This preview has expired or was changed: upload the list again."))
    if data.get("firm") != firm.pk or not expected:
        return again(_("This preview has expired or was changed: upload the list again."))

    def produce():
        result = bulk.submit(actor=request.user, broker=firm, rows=rows, terms=terms, expected=expected)
        body = {"written": result.written, "failed_row": result.failed_row, "totals": result.totals,
                "results": [r.to_json() for r in result.results]}
        # A rolled-back submit is not remembered: the same Submit may be sent again.
        return (200 if result.written else 422), body, None

    endpoint = f"POST {request.path}"
    try:
        key = idempotency.clean_key(request.POST.get(idempotency.FORM_FIELD))
        if key is None:
            _status, body, _result = produce()
        else:
            _status, body, _result = idempotency.run(
                user=request.user, key=key, endpoint=endpoint,
                request_hash=idempotency.fingerprint(endpoint, {"payload": raw}), produce=produce)
    except (idempotency.IdempotencyConflict, ApplicationError) as exc:
        return again(exc.message)
    if isinstance(body, str):  # a replay stores the body as text
        import json

        body = json.loads(body)
    return render(request, "brokers/bulk_request.html", _bulk_context(
        firm, mode="results", results=body["results"], totals=body["totals"], written=body["written"],
        failed_row=body["failed_row"]), status=200 if body["written"] else 409)


# --- Reminders to clients' BAMs ----------------------------------------------------------------

@login_required
@require_POST
def remind(request):
    """The board's "Send reminder": the ticked clients (or every client of the page), once a day each."""
    from django.contrib import messages

    from .reminders import request_reminders

    _require_broker(request.user)
    ids = request.POST.getlist("client")
    if request.POST.get("all_on_page"):
        ids += request.POST.getlist("page_client")
    back = _safe_next(request, reverse("brokers:board"))
    if not ids:
        messages.error(request, _("Tick at least one client to remind."))
        return HttpResponseRedirect(back)
    queued, already = request_reminders(request.user, ids, today=timezone.localdate())
    messages.success(request, _("Reminder sent to %(n)d client(s), %(m)d already reminded today.")
                     % {"n": queued, "m": already})
    return HttpResponseRedirect(back)
