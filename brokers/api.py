"""GET /api/v1/broker-board/: the board for brokers' back-office systems.

Filtering (``q``, ``overdue``, ``shortfall``, ``late``, ``expiring``), ordering (``ordering`` = any
column key, "-" for descending) and cursor pagination (``cursor``, ``page_size``): the cursor holds
the position (sort value and RM account id) of the page's edge, signed, so a page never repeats or
skips a row when rows are added or removed elsewhere in the list. Bad input: 400 with field messages.
Not a broker firm's employee: 404.
"""

from __future__ import annotations

from django.core import signing
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.roles import DELEGATION_FLAGS
from carm_portal import idempotency
from carm_portal.exceptions import ApplicationError
from carm_portal.validators import date_validators

from . import board as b
from . import worklists as w

CURSOR_SALT = "brokers.board.cursor"
ORDERINGS = [c.key for c in b.COLUMNS] + [f"-{c.key}" for c in b.COLUMNS]


class BoardParamsSerializer(serializers.Serializer):
    q = serializers.CharField(required=False, allow_blank=True, max_length=b.SEARCH_MAX, trim_whitespace=True)
    ordering = serializers.ChoiceField(choices=ORDERINGS, required=False, default=b.DEFAULT_SORT)
    overdue = serializers.BooleanField(required=False, default=False)
    shortfall = serializers.BooleanField(required=False, default=False)
    late = serializers.BooleanField(required=False, default=False)
    expiring = serializers.BooleanField(required=False, default=False)
    page_size = serializers.IntegerField(required=False, min_value=1, max_value=b.MAX_PAGE_SIZE,
                                         default=b.PAGE_SIZE)
    cursor = serializers.CharField(required=False, max_length=2000)

    def validate_cursor(self, value):
        try:
            data = signing.loads(value, salt=CURSOR_SALT)
            key, direction, ordering = data["k"], data["d"], data["o"]
        except (signing.BadSignature, KeyError, TypeError, ValueError):
            raise serializers.ValidationError(_("Invalid cursor.")) from None
        if direction not in ("next", "prev") or not isinstance(key, list) or len(key) != 3:
            raise serializers.ValidationError(_("Invalid cursor."))
        return {"key": [_tuples(k) for k in key], "direction": direction, "ordering": ordering}

    def validate(self, attrs):
        cursor = attrs.get("cursor")
        if cursor and cursor["ordering"] != attrs["ordering"]:
            raise serializers.ValidationError({"cursor": [_("This cursor belongs to another ordering.")]})
        return attrs


def _tuples(value):
    return tuple(_tuples(v) for v in value) if isinstance(value, list) else value


class BoardRowSerializer(serializers.Serializer):
    program_account = serializers.IntegerField(source="program_account.pk")
    rm_account = serializers.CharField(source="program_account.number")
    client = serializers.CharField(source="business.display_name")
    client_id = serializers.IntegerField(source="business.pk")
    bn = serializers.CharField(source="business.bn9")
    readiness = serializers.IntegerField(source="score")
    missing_items = serializers.IntegerField(source="missing")
    amount_due = serializers.DecimalField(max_digits=14, decimal_places=2, allow_null=True,
                                          help_text=_("Null: the delegation has no financial scope."))
    due_date = serializers.DateField(allow_null=True)
    overdue = serializers.DecimalField(max_digits=14, decimal_places=2, allow_null=True)
    security_required = serializers.DecimalField(max_digits=14, decimal_places=2, allow_null=True)
    security_posted = serializers.DecimalField(max_digits=14, decimal_places=2, allow_null=True)
    security_gap = serializers.DecimalField(max_digits=14, decimal_places=2, allow_null=True)
    forecast_gap = serializers.DecimalField(
        max_digits=14, decimal_places=2, allow_null=True,
        help_text=_("Bond the next annual review's forecast needs beyond what is posted (read-only forecast)."))
    cads_due_soon = serializers.IntegerField(allow_null=True, help_text=_("Due within 5 business days."))
    cads_late = serializers.IntegerField(allow_null=True)
    open_appeals = serializers.IntegerField(source="appeals_open", allow_null=True)
    nearest_appeal_deadline = serializers.DateField(source="appeal_deadline", allow_null=True)
    delegation_scopes = serializers.ListField(child=serializers.CharField())
    delegation_expires = serializers.DateField(allow_null=True)
    delegation_expiring = serializers.BooleanField(source="expiring")


class BoardPageSerializer(serializers.Serializer):
    count = serializers.IntegerField(help_text=_("Rows in the filtered set."))
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = BoardRowSerializer(many=True)


def _cursor(key: list, direction: str, ordering: str) -> str:
    return signing.dumps({"k": key, "d": direction, "o": ordering}, salt=CURSOR_SALT)


class BrokerBoardApi(APIView):
    @extend_schema(
        operation_id="broker_board_list",
        parameters=[BoardParamsSerializer],
        responses=BoardPageSerializer,
        description=__doc__,
    )
    def get(self, request):
        if not b.broker_firm_ids(request.user):
            raise Http404
        params = BoardParamsSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        data = params.validated_data
        ordering = data["ordering"]
        query = b.BoardQuery(search=data.get("q", ""), sort=ordering,
                             filters=tuple(name for name in b.FILTERS if data[name]))
        today = timezone.localdate()
        rows = b.everything(request.user, query, today=today, readiness=query.sort_key == "score")
        size = data["page_size"]
        pos = {id(r): b.position_key(r, query) for r in rows}
        cursor = data.get("cursor")
        if cursor is None:
            page, has_prev, has_next = rows[:size], False, len(rows) > size
        elif cursor["direction"] == "next":
            rest = [r for r in rows if b.after(pos[id(r)], cursor["key"], query.descending)]
            page, has_prev, has_next = rest[:size], True, len(rest) > size
        else:
            before = [r for r in rows if b.after(cursor["key"], pos[id(r)], query.descending)]
            page, has_prev, has_next = before[-size:], len(before) > size, True

        if query.sort_key != "score":
            b.fill_readiness(page, today=today)

        def link(direction: str, row) -> str | None:
            if row is None:
                return None
            q = request.query_params.copy()
            q["cursor"] = _cursor(pos[id(row)], direction, ordering)
            return request.build_absolute_uri(request.path + "?" + q.urlencode())

        return Response({
            "count": len(rows),
            "next": link("next", page[-1]) if has_next and page else None,
            "previous": link("prev", page[0]) if has_prev and page else None,
            "results": BoardRowSerializer(page, many=True).data,
        })


# --- GET /api/v1/broker-worklists/<kind>/ -----------------------------------------------------------

class WorklistParamsSerializer(serializers.Serializer):
    page = serializers.IntegerField(required=False, min_value=1, default=1)
    page_size = serializers.IntegerField(required=False, min_value=1, max_value=b.MAX_PAGE_SIZE,
                                         default=b.PAGE_SIZE)


class WorklistRowSerializer(serializers.Serializer):
    program_account = serializers.IntegerField(source="program_account.pk")
    rm_account = serializers.CharField(source="program_account.number")
    client = serializers.CharField(source="business.display_name")
    client_id = serializers.IntegerField(source="business.pk",
                                         help_text=_("POST it as 'business' to /brokers/act-for/ to act for the client."))
    item = serializers.CharField()
    url = serializers.CharField(help_text=_("The object's page (a path on this site)."))
    act_by = serializers.DateField(source="when", allow_null=True)
    amount = serializers.DecimalField(max_digits=14, decimal_places=2, allow_null=True,
                                      help_text=_("Amount due (statements) or security gap (shortfalls); null otherwise."))
    late = serializers.BooleanField()


class WorklistPageSerializer(serializers.Serializer):
    count = serializers.IntegerField(help_text=_("Rows in the worklist."))
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = WorklistRowSerializer(many=True)


class BrokerWorklistApi(APIView):
    """GET /api/v1/broker-worklists/<kind>/: one cross-client worklist (kind: cads, statements,
    shortfalls, appeals, delegations), by date to act by, page pagination (``page``,
    ``page_size``). Same gate as the board: only the clients and scopes the user may act for.
    Not a broker firm's employee, or an unknown kind: 404. Bad parameters: 400."""

    @extend_schema(
        operation_id="broker_worklist_list",
        parameters=[WorklistParamsSerializer,
                    OpenApiParameter("kind", str, OpenApiParameter.PATH,
                                     enum=list(w.KINDS),
                                     description="Which worklist.")],
        responses=WorklistPageSerializer,
    )
    def get(self, request, kind: str):
        if kind not in w.KINDS or not b.broker_firm_ids(request.user):
            raise Http404
        params = WorklistParamsSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        number, size = params.validated_data["page"], params.validated_data["page_size"]
        rows = w.worklist(request.user, kind, today=timezone.localdate())
        start = (number - 1) * size
        page = rows[start:start + size]

        def link(n: int) -> str:
            q = request.query_params.copy()
            q["page"] = str(n)
            return request.build_absolute_uri(request.path + "?" + q.urlencode())

        return Response({
            "count": len(rows),
            "next": link(number + 1) if start + size < len(rows) else None,
            "previous": link(number - 1) if number > 1 and rows else None,
            "results": WorklistRowSerializer(page, many=True).data,
        })


# --- POST /api/v1/delegations/bulk-request/ ----------------------------------------------------

class BulkRowSerializer(serializers.Serializer):
    number = serializers.CharField(max_length=40, allow_blank=True,
                                   help_text=_("The importer's BN9, or one of its RM accounts (e.g. 123456782RM0001)."))
    scopes = serializers.ListField(child=serializers.ChoiceField(choices=list(DELEGATION_FLAGS)), required=False,
                                   allow_empty=False, help_text=_("This row's scopes (default: the request's)."))
    valid_to = serializers.DateField(required=False, allow_null=True, validators=date_validators(future=True),
                                     help_text=_("This row's end date (default: the request's)."))


class BulkRequestSerializer(serializers.Serializer):
    firm = serializers.IntegerField(required=False, help_text=_("The broker firm asking (default: your first)."))
    rows = BulkRowSerializer(many=True, required=False, allow_empty=False)
    csv = serializers.CharField(required=False, trim_whitespace=False,
                                help_text=_("Instead of rows: the CSV text (BN9 or RM number, scopes, valid_to)."))
    scopes = serializers.ListField(child=serializers.ChoiceField(choices=list(DELEGATION_FLAGS)),
                                   required=False, default=list(DELEGATION_FLAGS))
    valid_from = serializers.DateField(required=False, validators=date_validators(future=True))
    valid_to = serializers.DateField(required=False, allow_null=True, validators=date_validators(future=True))
    note = serializers.CharField(required=False, allow_blank=True, max_length=300, default="")
    dry_run = serializers.BooleanField(required=False, default=False,
                                       help_text=_("True: only the preview, nothing written."))

    def validate(self, attrs):
        from . import bulk

        rows, text = attrs.get("rows"), attrs.get("csv")
        if (rows is None) == (text is None):
            raise serializers.ValidationError({"rows": [_("Send either rows or csv.")]})
        try:
            if text is not None:
                attrs["parsed"] = bulk.parse_csv(text.encode(), field_name="csv")
            else:
                if len(rows) > bulk.MAX_ROWS:
                    raise serializers.ValidationError(
                        {"rows": [_("Too many rows: at most %(n)d.") % {"n": bulk.MAX_ROWS}]})
                attrs["parsed"] = [
                    bulk.Row(i, r["number"], tuple(f for f in DELEGATION_FLAGS if f in r["scopes"])
                             if r.get("scopes") else None, r.get("valid_to"), "valid_to" in r)
                    for i, r in enumerate(rows, start=1)]
        except ApplicationError as exc:
            raise serializers.ValidationError(exc.field_errors) from None
        start = attrs.get("valid_from") or timezone.localdate()
        end = attrs.get("valid_to")
        if end is not None and end < start:
            raise serializers.ValidationError({"valid_to": [_("The end date is before the start date.")]})
        return attrs


class BulkRowResultSerializer(serializers.Serializer):
    row = serializers.IntegerField(help_text=_("The row's number (CSV: its line, the header included)."))
    number = serializers.CharField()
    outcome = serializers.ChoiceField(choices=["request", "already", "unknown", "bad_format", "duplicate",
                                               "failed", "rolled_back"])
    label = serializers.CharField()
    message = serializers.CharField()
    importer = serializers.CharField()
    bn9 = serializers.CharField()
    rm_account = serializers.CharField()
    scopes = serializers.ListField(child=serializers.CharField())
    valid_to = serializers.DateField(allow_null=True)
    delegation = serializers.IntegerField(allow_null=True, help_text=_("The request made (null: none)."))


class BulkResultSerializer(serializers.Serializer):
    dry_run = serializers.BooleanField()
    written = serializers.BooleanField(help_text=_("True: every requestable row was requested."))
    totals = serializers.DictField(child=serializers.IntegerField(), help_text=_("Rows per outcome."))
    results = BulkRowResultSerializer(many=True)


class BulkDelegationRequestApi(APIView):
    """POST /api/v1/delegations/bulk-request/: ask many importers for a delegation at once.

    Each row names an importer by its BN9 (whole business) or by one of its RM accounts (that RM
    only). ``dry_run: true``: each row's outcome, nothing written (200). Otherwise every row must
    be requestable: all are requested in one transaction (201), or none is and the answer is 400
    with every row's outcome and message (unknown BN, bad format, duplicate row, already
    delegated or requested). The broker firm's BAM only (others: 404). Honours Idempotency-Key.
    """

    @extend_schema(
        operation_id="delegation_bulk_request",
        request=BulkRequestSerializer,
        parameters=[idempotency.openapi_parameter()],
        responses={
            200: BulkResultSerializer, 201: BulkResultSerializer,
            400: OpenApiResponse(OpenApiTypes.OBJECT, description=(
                "Field messages (bad input), or, when a row cannot be requested, the result above "
                "(``results``: each row's outcome and message) with ``detail``: nothing was written.")),
        },
    )
    @idempotency.idempotent
    def post(self, request):
        from . import bulk

        if not bulk.requesting_firms(request.user).exists():
            raise Http404
        params = BulkRequestSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        data = params.validated_data
        firm = bulk.firm_for(request.user, data.get("firm"))
        if firm is None:
            raise Http404
        terms = bulk.Terms(tuple(f for f in DELEGATION_FLAGS if f in data["scopes"]),
                           data.get("valid_from") or timezone.localdate(), data.get("valid_to"), data["note"])
        rows = data["parsed"]
        if data["dry_run"]:
            results = bulk.evaluate(firm, rows, terms)
            return Response({"dry_run": True, "written": False, "totals": bulk.totals(results),
                             "results": [r.to_json() for r in results]})
        result = bulk.submit(actor=request.user, broker=firm, rows=rows, terms=terms)
        body = {"dry_run": False, "written": result.written, "totals": result.totals,
                "results": [r.to_json() for r in result.results]}
        if not result.written:
            body["detail"] = _("Nothing was requested: correct the rows below.")
        return Response(body, status=201 if result.written else 400)
