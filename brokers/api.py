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
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

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
