"""The broker board page, its CSV export, and the switcher's client search (type-ahead)."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpResponseRedirect, JsonResponse, StreamingHttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from accounts.access import businesses_for
from accounts.acting import get_acting_for, set_acting_for
from accounts.models import Business

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
    })


class _Echo:
    def write(self, value):
        return value


def _cell(value) -> str:
    """Spreadsheet formula injection: text starting with = + - @ is prefixed with a quote."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


CSV_HEADER = ["client", "bn", "rm_account", "readiness", "amount_due", "due_date", "overdue",
              "security_required", "security_posted", "security_gap", "forecast_gap", "cads_due_5_business_days", "cads_late",
              "open_appeals", "nearest_appeal_deadline", "delegation_scopes", "delegation_expires"]


def _iso(value) -> str:
    return "" if value is None else value.isoformat()


def _csv_rows(rows: Iterable[b.BoardRow]) -> Iterator[list]:
    yield CSV_HEADER
    for r in rows:
        yield [_cell(r.business.display_name), r.business.bn9, r.program_account.number, r.score,
               _cell(r.amount_due), _iso(r.due_date), _cell(r.overdue), _cell(r.security_required),
               _cell(r.security_posted), _cell(r.security_gap), _cell(r.forecast_gap), _cell(r.cads_due_soon), _cell(r.cads_late),
               _cell(r.appeals_open), _iso(r.appeal_deadline), " ".join(r.delegation_scopes),
               _iso(r.delegation_expires)]


@login_required
@require_GET
def board_csv(request):
    """Every row of the filtered, searched, sorted board (no pagination); money as plain decimals."""
    _require_broker(request.user)
    today = timezone.localdate()
    query = b.BoardQuery.from_params(request.GET)
    rows = b.everything(request.user, query, today=today)
    writer = csv.writer(_Echo())
    response = StreamingHttpResponse((writer.writerow(row) for row in _csv_rows(rows)),
                                     content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="broker-board-{today:%Y-%m-%d}.csv"'
    response["Cache-Control"] = "private, no-store"
    return response


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
