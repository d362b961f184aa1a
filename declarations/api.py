"""REST API for CADs: drafts with nested lines, submit, file in one call, versions (corrections
and adjustments), withdraw, CSV import, and the tariff and exchange-rate lookups.

Every queryset starts from ``declarations.selectors.cads_for`` (the access gate); anything outside
it answers 404, never 403, and a user with no RM account in the declarations scopes (a broker
whose delegation lacks the CAD scopes) gets 404 on every endpoint here. Views parse, call one
service and serialize; a broken rule (``ApplicationError``) answers 400 with field messages.

``Idempotency-Key`` (create, file, submit; ``carm_portal.idempotency``): the same key with the same
body gives back the original response; the same key with a different request answers 409.
"""

from __future__ import annotations

import django_filters
from django.db.models import Prefetch, Q
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import (
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response

from accounts.access import program_accounts_for
from accounts.roles import Scope
from carm_portal import idempotency
from carm_portal.conf import carm
from carm_portal.exceptions import ApplicationError

from . import selectors, services
from .csv_import import import_cads_csv
from .models import CAD, CADLine, CADVersion, ExchangeRate, TariffItem, TariffRate
from .serializers import (
    CadAmendInputSerializer,
    CadCreateInputSerializer,
    CadDetailSerializer,
    CadImportInputSerializer,
    CadSerializer,
    CadUpdateInputSerializer,
    CadVersionSerializer,
    CadWithdrawInputSerializer,
    ExchangeRateSerializer,
    ImportFailedSerializer,
    ImportResultSerializer,
    TariffItemSerializer,
    service_lines,
)

IDEMPOTENCY_HEADER = idempotency.openapi_parameter()
_FIELD_ERRORS = OpenApiResponse(description=_("Invalid: {\"detail\": ..., \"<field>\": [messages]}; line fields "
                                              "are keyed like \"lines.0.classification\". Nothing is stored."))
_NOT_FOUND = OpenApiResponse(description=_("Not found, or outside what you may act on."))
_CONFLICT = OpenApiResponse(description=_("This Idempotency-Key was used for a different request."))


# --- Filters -----------------------------------------------------------------------------------------

class CadFilter(django_filters.FilterSet):
    """Validated here, applied by ``selectors.cads_for`` (the one place that knows what "late" means)."""

    status = django_filters.ChoiceFilter(choices=CAD.Status.choices)
    cad_type = django_filters.ChoiceFilter(choices=CAD.Type.choices)
    released_from = django_filters.DateFilter(field_name="release_date", lookup_expr="gte")
    released_to = django_filters.DateFilter(field_name="release_date", lookup_expr="lte")
    office = django_filters.CharFilter(field_name="office_code", help_text=_("CBSA office code (4 digits)."))
    late = django_filters.BooleanFilter(
        field_name="submitted_late",
        help_text=_("true: not submitted past the due date, or submitted after it; false: the others."),
    )
    search = django_filters.CharFilter(field_name="transaction_number",
                                       help_text=_("A transaction number, whole or its beginning."))
    program_account = django_filters.NumberFilter(field_name="program_account",
                                                  help_text=_("Id of one RM account."))

    class Meta:
        model = CAD
        fields = ["status", "cad_type", "released_from", "released_to", "office", "late", "search",
                  "program_account"]

    def filter_queryset(self, queryset):
        data = self.form.cleaned_data
        return selectors.cads_for(
            self.request.user, Scope.DECLARATIONS, status=data.get("status") or None,
            cad_type=data.get("cad_type") or None, released_from=data.get("released_from"),
            released_to=data.get("released_to"), office=data.get("office") or None, late=data.get("late"),
            search=data.get("search") or None, program_account=data.get("program_account"),
        )


class TariffItemFilter(django_filters.FilterSet):
    search = django_filters.CharFilter(method="filter_search",
                                       help_text=_("The start of a classification, or words of its description."))

    class Meta:
        model = TariffItem
        fields = ["search"]

    def filter_search(self, queryset, name, value: str):
        digits = "".join(ch for ch in value if ch.isdigit())
        if digits and len(digits) == len(value.replace(".", "").strip()):
            return queryset.filter(classification__startswith=digits)
        return queryset.filter(Q(description_en__icontains=value) | Q(description_fr__icontains=value))


class ExchangeRateFilter(django_filters.FilterSet):
    currency = django_filters.CharFilter(field_name="currency", lookup_expr="iexact")
    date_from = django_filters.DateFilter(field_name="date", lookup_expr="gte")
    date_to = django_filters.DateFilter(field_name="date", lookup_expr="lte")

    class Meta:
        model = ExchangeRate
        fields = ["currency", "date_from", "date_to"]


# --- CADs ------------------------------------------------------------------------------------------

@extend_schema_view(
    list=extend_schema(summary=_("CADs you may see, newest release first")),
    retrieve=extend_schema(summary=_("One CAD with its lines and versions"), responses={200: CadDetailSerializer,
                                                                                       404: _NOT_FOUND}),
    create=extend_schema(
        summary=_("Create a draft CAD with its lines"), parameters=[IDEMPOTENCY_HEADER],
        request=CadCreateInputSerializer,
        responses={201: CadDetailSerializer, 200: CadDetailSerializer, 400: _FIELD_ERRORS, 409: _CONFLICT},
    ),
    partial_update=extend_schema(
        summary=_("Change a draft (or a rejected CAD); lines, if given, replace all lines"),
        request=CadUpdateInputSerializer, responses={200: CadDetailSerializer, 400: _FIELD_ERRORS, 404: _NOT_FOUND},
    ),
    submit=extend_schema(
        summary=_("Submit a draft: every rule is checked"), request=None, parameters=[IDEMPOTENCY_HEADER],
        responses={200: CadDetailSerializer, 400: _FIELD_ERRORS, 404: _NOT_FOUND, 409: _CONFLICT},
    ),
    file=extend_schema(
        summary=_("Create and submit a CAD in one call"), parameters=[IDEMPOTENCY_HEADER],
        request=CadCreateInputSerializer,
        responses={201: CadDetailSerializer, 200: CadDetailSerializer, 400: _FIELD_ERRORS, 409: _CONFLICT},
    ),
    amend=extend_schema(
        summary=_("File a correction or an adjustment of an accepted CAD"),
        description=_("Before the payment due date of the billing period the CAD was charged in, a correction "
                      "(approved at once; the difference is posted); after it, an adjustment waiting for CBSA "
                      "review."),
        request=CadAmendInputSerializer, parameters=[IDEMPOTENCY_HEADER],
        responses={201: CadVersionSerializer, 400: _FIELD_ERRORS, 404: _NOT_FOUND, 409: _CONFLICT},
    ),
    withdraw=extend_schema(
        summary=_("Withdraw a CAD (an accepted one's charge is reversed)"), request=CadWithdrawInputSerializer,
        responses={200: CadDetailSerializer, 400: _FIELD_ERRORS, 404: _NOT_FOUND},
    ),
    versions=extend_schema(summary=_("The versions of a CAD, oldest first, with their ledger effect"),
                           responses={200: CadVersionSerializer(many=True), 404: _NOT_FOUND}),
    import_csv=extend_schema(
        summary=_("Import CADs from a CSV file: all or nothing"), request={"multipart/form-data":
                                                                           CadImportInputSerializer},
        parameters=[IDEMPOTENCY_HEADER], responses={201: ImportResultSerializer, 400: ImportFailedSerializer,
                                                    409: _CONFLICT},
    ),
)
class CadViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = CadSerializer
    queryset = CAD.objects.none()
    filterset_class = CadFilter
    http_method_names = ["get", "post", "patch", "head", "options"]
    parser_classes = [JSONParser, MultiPartParser, FormParser]
    gate_scope = Scope.DECLARATIONS  # 404 for a user with no RM account in the declarations scopes

    def get_queryset(self):
        qs = selectors.cads_for(self.request.user, Scope.DECLARATIONS)
        if self.action != "list":
            qs = _with_details(qs)
        return qs

    def get_serializer_class(self):
        return CadSerializer if self.action == "list" else CadDetailSerializer

    def _detail(self, cad: CAD, code=status.HTTP_200_OK) -> Response:
        if hasattr(cad, "filed_lines"):
            # cad_file handed back the CAD as it stored it, lines and versions included: the filer
            # may see what it just filed, so there is nothing to re-read.
            _as_prefetched(cad, lines=cad.filed_lines, versions=cad.filed_versions)
        else:
            cad = _with_details(selectors.cads_for(self.request.user, Scope.DECLARATIONS)).get(pk=cad.pk)
        return Response(CadDetailSerializer(cad).data, status=code)

    def _create(self, request, service):
        # With its business: the filing reads it (filer's BN, the audit's "acting for").
        accounts = program_accounts_for(request.user, Scope.SUBMIT_CADS).select_related("business")
        data = CadCreateInputSerializer(data=request.data, program_accounts=accounts)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        account = values.pop("program_account")
        lines = service_lines(values.pop("lines"))
        cad = service(actor=request.user, program_account=account, lines=lines, **values)
        return self._detail(cad, status.HTTP_201_CREATED)

    @idempotency.idempotent
    def create(self, request):
        return self._create(request, services.cad_create_draft)

    @action(detail=False, methods=["post"])
    @idempotency.idempotent
    def file(self, request):
        return self._create(request, services.cad_file)

    def partial_update(self, request, pk=None):
        cad = self.get_object()
        data = CadUpdateInputSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        lines = values.pop("lines", None)
        cad = services.cad_update_draft(actor=request.user, cad=cad,
                                        lines=service_lines(lines) if lines is not None else None, **values)
        return self._detail(cad)

    @action(detail=True, methods=["post"])
    @idempotency.idempotent
    def submit(self, request, pk=None):
        cad = self.get_object()
        cad = services.cad_submit(actor=request.user, cad=cad)
        return self._detail(cad)

    @action(detail=True, methods=["post"])
    @idempotency.idempotent
    def amend(self, request, pk=None):
        cad = self.get_object()
        data = CadAmendInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        version = services.cad_amend(actor=request.user, cad=cad, lines=service_lines(values.pop("lines")),
                                     **values)
        version = CADVersion.objects.select_related("filed_by", "ledger_entry").get(pk=version.pk)
        return Response(CadVersionSerializer(version).data, status=status.HTTP_201_CREATED)

    @action(detail=True, methods=["post"])
    def withdraw(self, request, pk=None):
        cad = self.get_object()
        data = CadWithdrawInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        cad = services.cad_withdraw(actor=request.user, cad=cad, **data.validated_data)
        return self._detail(cad)

    @action(detail=True, methods=["get"], pagination_class=None)  # a plain list, as documented
    def versions(self, request, pk=None):
        cad = self.get_object()
        return Response(CadVersionSerializer(selectors.cad_versions(cad), many=True).data)

    @action(detail=False, methods=["post"], url_path="import")
    @idempotency.idempotent
    def import_csv(self, request):
        data = CadImportInputSerializer(data=request.data,
                                        program_accounts=program_accounts_for(request.user, Scope.SUBMIT_CADS))
        data.is_valid(raise_exception=True)
        upload = data.validated_data["file"]
        limit = carm("UPLOAD_MAX_BYTES")
        if upload.size > limit:
            raise ApplicationError(_("The file is larger than %(mb)d MB.") % {"mb": limit // (1024 * 1024)},
                                   field_errors={"file": [_("Too large.")]})
        result = import_cads_csv(actor=request.user, file=upload.read(),
                                 program_account=data.validated_data.get("program_account"))
        if result.errors:
            body = {"detail": _("Nothing was imported: the file has %(n)d problem(s).") % {"n": len(result.errors)},
                    "errors": [{"row": e.row, "column": e.column, "message": e.message} for e in result.errors]}
            return Response(body, status=status.HTTP_400_BAD_REQUEST)
        body = {"cad_count": len(result.cads), "line_count": result.line_count, "cads": result.cads}
        return Response(ImportResultSerializer(body).data, status=status.HTTP_201_CREATED)


def _as_prefetched(cad: CAD, *, lines, versions) -> None:
    """``cad.lines.all()`` and ``cad.versions.all()`` answer these objects (Django's prefetch cache)."""
    cache = {}
    for name, model, objects in (("lines", CADLine, lines), ("versions", CADVersion, versions)):
        qs = model.objects.filter(cad=cad)
        qs._result_cache = list(objects)
        qs._prefetch_done = True
        cache[name] = qs
    cad._prefetched_objects_cache = cache


def _with_details(qs):
    return qs.select_related("program_account__business", "filed_by").prefetch_related(
        Prefetch("lines", queryset=CADLine.objects.order_by("line_no")),
        Prefetch("versions", queryset=CADVersion.objects.select_related("filed_by", "ledger_entry").order_by("number")),
    )


# --- Reference lookups -----------------------------------------------------------------------------

class _DeclarationsOnly:
    gate_scope = Scope.DECLARATIONS  # accounts.access.GatePermission: 404 without the declarations scopes


@extend_schema_view(
    list=extend_schema(summary=_("Tariff items with their rates by treatment")),
    retrieve=extend_schema(summary=_("One tariff item by its 10-digit classification")),
)
class TariffItemViewSet(_DeclarationsOnly, viewsets.ReadOnlyModelViewSet):
    serializer_class = TariffItemSerializer
    queryset = TariffItem.objects.none()
    filterset_class = TariffItemFilter
    lookup_field = "classification"
    lookup_value_regex = r"\d{10}"

    def get_queryset(self):
        return TariffItem.objects.filter(is_active=True).prefetch_related(
            Prefetch("rates", queryset=TariffRate.objects.order_by("treatment_id"))
        ).order_by("classification")


@extend_schema_view(list=extend_schema(summary=_("Exchange rates to CAD by currency and day")))
class ExchangeRateViewSet(_DeclarationsOnly, mixins.ListModelMixin, viewsets.GenericViewSet):
    serializer_class = ExchangeRateSerializer
    queryset = ExchangeRate.objects.none()
    filterset_class = ExchangeRateFilter

    def get_queryset(self):
        return ExchangeRate.objects.order_by("currency", "-date")
