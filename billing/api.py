"""Billing REST API: statements, ledger entries, daily notices, payments, billing runs (staff).

Every queryset starts from the access gate (``billing.payments.accounts_for``: the gate, plus
staff); outside it answers 404. Lists use select_related so their query count is constant.
"""

from __future__ import annotations

import json

import django_filters
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.renderers import BaseRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.roles import Scope
from billing.ledger.models import LedgerEntry
from carm_portal import idempotency, pdf
from carm_portal.conf import carm

from . import csv_export, pdf_tasks, services
from .models import BillingRun, DailyNotice, Payment, Statement
from .payments import accounts_for, payment_record
from .serializers import (
    BillingRunSerializer,
    BillingRunStartSerializer,
    DailyNoticeSerializer,
    LedgerEntrySerializer,
    MoneySummaryQuerySerializer,
    MoneySummarySerializer,
    PaymentInputSerializer,
    PaymentSerializer,
    ReconcileInputSerializer,
    ReconcileMappingSerializer,
    ReconciliationSerializer,
    StatementDetailSerializer,
    StatementLineSerializer,
    StatementSerializer,
)
from .summary import money_summary


class StatementFilter(django_filters.FilterSet):
    account = django_filters.NumberFilter(field_name="program_account_id", help_text=_("Program account id."))
    period = django_filters.DateFilter(field_name="period_end", help_text=_("Period end (a 17th)."))

    class Meta:
        model = Statement
        fields = ["account", "period"]


class LedgerEntryFilter(django_filters.FilterSet):
    account = django_filters.NumberFilter(field_name="program_account_id", help_text=_("Program account id."))
    kind = django_filters.ChoiceFilter(choices=LedgerEntry.Kind.choices)
    period = django_filters.DateFilter(field_name="billing_period", help_text=_("Billing period end (a 17th)."))
    date_from = django_filters.DateFilter(field_name="effective_date", lookup_expr="gte")
    date_to = django_filters.DateFilter(field_name="effective_date", lookup_expr="lte")

    class Meta:
        model = LedgerEntry
        fields = ["account", "kind", "period", "date_from", "date_to"]


class DailyNoticeFilter(django_filters.FilterSet):
    account = django_filters.NumberFilter(field_name="program_account_id", help_text=_("Program account id."))
    day = django_filters.DateFilter()

    class Meta:
        model = DailyNotice
        fields = ["account", "day"]


class PaymentFilter(django_filters.FilterSet):
    account = django_filters.NumberFilter(field_name="program_account_id", help_text=_("Program account id."))
    method = django_filters.ChoiceFilter(choices=Payment.Method.choices)

    class Meta:
        model = Payment
        fields = ["account", "method"]


class CsvRenderer(BaseRenderer):
    """Lets a client ask for ``Accept: text/csv`` (the CSV views stream their own body; an error's
    detail comes out as JSON text)."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return data if isinstance(data, (bytes, str)) else json.dumps(data, default=str)


class _GatedMixin:
    scope = Scope.BILLING

    def allowed_accounts(self):
        return accounts_for(self.request.user, self.scope).values("id")


class StatementViewSet(_GatedMixin, viewsets.ReadOnlyModelViewSet):
    """Statements of account (SOA) of the RM accounts you may see for billing."""

    filterset_class = StatementFilter

    def get_queryset(self):
        return Statement.objects.filter(program_account_id__in=self.allowed_accounts()).select_related(
            "program_account"
        ).order_by("-period_end", "program_account_id")

    def get_serializer_class(self):
        if self.action == "lines":
            return StatementLineSerializer
        return StatementDetailSerializer if self.action == "retrieve" else StatementSerializer

    @extend_schema(responses=StatementLineSerializer(many=True), filters=False,
                   description="The statement's lines (its ledger entries), paginated: a statement can have "
                               "tens of thousands.")
    @action(detail=True, methods=["get"])
    def lines(self, request, pk=None):
        statement = self.get_object()
        page = self.paginate_queryset(statement.lines())
        return self.get_paginated_response(StatementLineSerializer(page, many=True).data)

    @extend_schema(
        responses={(200, "text/csv"): OpenApiTypes.BINARY}, filters=False,
        description="Every line of the statement (its ledger entries) as one CSV file, streamed: a header row, then "
                    "effective_date, rm_account, kind, reference, description, the breakdown by tax kind (duty, sima, "
                    "excise_duty, excise_tax, gst, other), amount, billing_period, posted_at. Amounts are plain "
                    "decimals (-500.00); a text cell starting with = + - @ is prefixed with a quote. A statement "
                    "with more lines than STATEMENT_PDF_MAX_LINES has a summary PDF: its lines are here.",
    )
    def lines_csv(self, request, pk=None):
        return csv_export.statement_csv_response(self.get_object())

    @extend_schema(
        responses={(200, "application/pdf"): OpenApiTypes.BINARY, 202: OpenApiTypes.OBJECT},
        description="The statement as a PDF. 202 while the pdf worker renders it: ask again shortly.",
    )
    @action(detail=True, methods=["get"])
    def pdf(self, request, pk=None):
        statement = self.get_object()
        stored = pdf_tasks.statement_pdf_or_enqueue(statement)
        if stored is None:
            return Response({"detail": _("The PDF is being prepared; try again in a few seconds.")},
                            status=status.HTTP_202_ACCEPTED, headers={"Retry-After": "3"})
        return pdf.file_response(stored, pdf_tasks.statement_filename(statement))

    @extend_schema(
        request={"multipart/form-data": ReconcileInputSerializer},
        responses={200: ReconciliationSerializer, 422: ReconcileMappingSerializer},
        description=(
            "Reconcile the statement with your list (a CSV of transaction numbers and amounts) or, as a "
            "broker, with your firm's CADs for its RM and period: matched; on the statement only (who filed "
            "it); on your list only (why); amounts that differ (the CAD versions that explain it); and every "
            "other line explained, each credit and payment with the debts it paid (``paid``). 400 with field messages for a bad file; 422 with the file's headers when "
            "the columns must be named (number_column, amount_column). Writes nothing."
        ),
    )
    @action(detail=True, methods=["post"], parser_classes=[MultiPartParser, FormParser])
    def reconcile(self, request, pk=None):
        from . import reconcile as reconciler

        statement = self.get_object()
        data = ReconcileInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        upload = values.get("file")
        result, parsed = reconciler.reconcile_or_error(
            statement, user=request.user, today=timezone.localdate(),
            content=upload.read(carm("UPLOAD_MAX_BYTES") + 1) if upload else None,
            use_firm_cads=values["source"] == "firm",
            number_column=values.get("number_column") or None, amount_column=values.get("amount_column") or None,
        )
        if result is None:
            return Response(ReconcileMappingSerializer({"needs_mapping": True, "headers": parsed.headers}).data,
                            status=status.HTTP_422_UNPROCESSABLE_ENTITY)
        if values["save"]:
            reconciler.save(result, user=request.user, source=values["source"])
        return Response(ReconciliationSerializer(result).data)


class LedgerEntryViewSet(_GatedMixin, viewsets.ReadOnlyModelViewSet):
    """Transaction history: every ledger entry of the RM accounts you may see for billing."""

    serializer_class = LedgerEntrySerializer
    filterset_class = LedgerEntryFilter

    def get_queryset(self):
        return LedgerEntry.objects.filter(program_account_id__in=self.allowed_accounts()).select_related(
            "program_account"
        ).order_by("-effective_date", "-id")


class DailyNoticeViewSet(_GatedMixin, viewsets.ReadOnlyModelViewSet):
    """Daily notices: one per account per day with postings."""

    serializer_class = DailyNoticeSerializer
    filterset_class = DailyNoticeFilter

    def get_queryset(self):
        return DailyNotice.objects.filter(program_account_id__in=self.allowed_accounts()).select_related(
            "program_account"
        ).order_by("-day", "program_account_id")


class PaymentViewSet(_GatedMixin, mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Payments: list those you may see for billing; record one (payments scope) with an Idempotency-Key."""

    serializer_class = PaymentSerializer
    filterset_class = PaymentFilter

    def get_queryset(self):
        return Payment.objects.filter(program_account_id__in=self.allowed_accounts()).select_related(
            "program_account"
        ).order_by("-received_on", "-id")

    @extend_schema(
        request=PaymentInputSerializer,
        responses={201: PaymentSerializer},
        parameters=[idempotency.openapi_parameter()],
    )
    @idempotency.idempotent
    def create(self, request, *args, **kwargs):
        data = PaymentInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        account = get_object_or_404(accounts_for(request.user, Scope.PAYMENTS), pk=values["program_account"])
        payment = payment_record(
            request.user, account, values["method"], values["reference"], values["amount"], values["received_on"],
        )
        return Response(PaymentSerializer(payment).data, status=status.HTTP_201_CREATED)


class MoneySummaryApi(APIView):
    """What is owed and by when, over the RM accounts you may see for billing (``account`` narrows it
    to one): the same figures as the dashboard and the billing pages (billing/summary.py)."""

    @extend_schema(
        parameters=[OpenApiParameter("account", int, description=_("Program account id."))],
        responses=MoneySummarySerializer,
    )
    def get(self, request):
        query = MoneySummaryQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        accounts = accounts_for(request.user, Scope.BILLING)
        account = query.validated_data.get("account")
        if account is not None:
            accounts = accounts.filter(pk=account)
        ids = list(accounts.values_list("id", flat=True))
        if account is not None and not ids:
            raise Http404
        return Response(MoneySummarySerializer(money_summary(ids, today=timezone.localdate())).data)


class BillingRunViewSet(viewsets.ReadOnlyModelViewSet):
    """Billing runs (CBSA officers only): progress, start a run for a period, retry failed chunks."""

    serializer_class = BillingRunSerializer
    officer_only = True
    queryset = BillingRun.objects.select_related("started_by").order_by("-period_end", "-run_number")

    @extend_schema(request=BillingRunStartSerializer, responses={201: BillingRunSerializer})
    @action(detail=False, methods=["post"])
    def start(self, request):
        data = BillingRunStartSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        run = services.start_run(data.validated_data["period_end"], actor=request.user,
                                 force=data.validated_data["force"])
        return Response(BillingRunSerializer(run).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={200: BillingRunSerializer})
    @action(detail=True, methods=["post"])
    def retry(self, request, pk=None):
        run = self.get_object()
        services.retry_failed(run.pk, actor=request.user)
        run.refresh_from_db()
        return Response(BillingRunSerializer(run).data)
