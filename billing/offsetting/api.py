"""REST API for offsetting: allocations, credits and debts with what is left, manual offsetting,
an on-demand run, refunds, and the offsetting preference.

Every queryset starts from the access gate: Scope.BILLING to read, Scope.PAYMENTS to act.
Anything outside answers 404, never 403. Business-rule errors (``ApplicationError``) answer 400
with field messages.
"""

from __future__ import annotations

import django_filters
from django import forms
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import mixins, status, viewsets
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.access import businesses_for, get_program_account_or_404, program_accounts_for
from accounts.models import Business
from accounts.roles import Scope
from billing.ledger.models import LedgerEntry
from carm_portal import idempotency
from carm_portal.calendar import period_start

from . import selectors, services
from .models import Allocation, Refund
from .serializers import (
    AllocationSerializer,
    CreditSerializer,
    DebtSerializer,
    ManualApplyInputSerializer,
    PreferenceSerializer,
    PreferenceUpdateInputSerializer,
    RefundRequestInputSerializer,
    RefundSerializer,
    RunInputSerializer,
    RunSerializer,
)


def _billing_ids(user):
    return program_accounts_for(user, Scope.BILLING).values("id")


class _IdFilter(django_filters.Filter):
    field_class = forms.IntegerField


# --- Filters -------------------------------------------------------------------------------------


class AllocationFilter(django_filters.FilterSet):
    program_account = extend_schema_field(OpenApiTypes.INT)(django_filters.Filter(
        method="filter_account", field_name="program_account",
        help_text=_("Only offsets whose credit or debt is on this RM account."),
    ))
    period = django_filters.DateFilter(
        method="filter_period", help_text=_("Only offsets cleared in the billing period ending on this 17th."),
    )
    method = django_filters.ChoiceFilter(choices=Allocation.Method.choices)

    class Meta:
        model = Allocation
        fields = ["program_account", "period", "method"]

    def filter_account(self, queryset, name, value):
        from django.db.models import Q

        try:
            pk = int(value)
        except (TypeError, ValueError):
            return queryset.none()
        return queryset.filter(Q(credit__program_account_id=pk) | Q(debt__program_account_id=pk))

    def filter_period(self, queryset, name, value):
        return queryset.filter(applied_on__gte=period_start(value), applied_on__lte=value)


class EntryFilter(django_filters.FilterSet):
    program_account = extend_schema_field(OpenApiTypes.INT)(
        _IdFilter(field_name="program_account", help_text=_("Only this RM account's entries."))
    )
    include_used = django_filters.BooleanFilter(
        method="filter_noop", help_text=_("Also list entries with nothing left (default: only open ones)."),
    )

    class Meta:
        model = LedgerEntry
        fields = ["program_account", "include_used"]

    def filter_noop(self, queryset, name, value):
        return queryset  # applied in the viewset (it decides the default)


# --- Read endpoints ------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(summary=_("Offsets: which credit paid which debt, newest first")),
    retrieve=extend_schema(summary=_("One offset")),
)
class AllocationViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = AllocationSerializer
    queryset = Allocation.objects.none()
    filterset_class = AllocationFilter

    def get_queryset(self):
        return selectors.allocations_visible(_billing_ids(self.request.user))


class _EntryViewSet(viewsets.ReadOnlyModelViewSet):
    filterset_class = EntryFilter
    queryset = selectors.credits().none()
    selector = None

    def get_queryset(self):
        qs = type(self).selector(_billing_ids(self.request.user)).select_related("program_account")
        if self.action == "list" and self.request.query_params.get("include_used", "").lower() not in {"true", "1"}:
            qs = qs.filter(remaining__gt=selectors.HALF_CENT)
        return qs.order_by("effective_date", "id")


@extend_schema_view(
    list=extend_schema(summary=_("Credits with what is left of each (security deposits excluded)")),
    retrieve=extend_schema(summary=_("One credit with what is left of it")),
)
class CreditViewSet(_EntryViewSet):
    serializer_class = CreditSerializer
    selector = staticmethod(selectors.credits)


@extend_schema_view(
    list=extend_schema(summary=_("Debts with what is left to pay and their due dates")),
    retrieve=extend_schema(summary=_("One debt with what is left to pay")),
)
class DebtViewSet(_EntryViewSet):
    serializer_class = DebtSerializer
    selector = staticmethod(selectors.debts)


# --- Actions -------------------------------------------------------------------------------------


class ManualApplyApi(APIView):
    """Apply one credit to chosen debts, paying each in full (partial payments are refused)."""

    @extend_schema(
        request=ManualApplyInputSerializer,
        parameters=[idempotency.openapi_parameter()],
        responses={
            201: AllocationSerializer(many=True),
            400: OpenApiResponse(description=_("The credit does not cover each debt in full, or another rule.")),
            404: OpenApiResponse(description=_("A credit or debt outside your financial scope.")),
        },
    )
    @idempotency.idempotent
    def post(self, request):
        data = ManualApplyInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        allocations = services.manual_apply(
            actor=request.user, credit_id=data.validated_data["credit"], debt_ids=data.validated_data["debts"],
        )
        rows = selectors.allocations_visible(_billing_ids(request.user)).filter(pk__in=[a.pk for a in allocations])
        return Response(AllocationSerializer(rows.order_by("id"), many=True).data, status=status.HTTP_201_CREATED)


class RunApi(APIView):
    """Queue automatic offsetting for one RM account now (it also runs daily and after new credits)."""

    @extend_schema(request=RunInputSerializer, responses={202: RunSerializer})
    def post(self, request):
        data = RunInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        account = get_program_account_or_404(request.user, Scope.PAYMENTS, data.validated_data["program_account"])
        services.run_offsets(actor=request.user, program_account=account)
        return Response(RunSerializer({"program_account": account.pk, "queued": True}).data,
                        status=status.HTTP_202_ACCEPTED)


class RefundFilter(django_filters.FilterSet):
    program_account = extend_schema_field(OpenApiTypes.INT)(_IdFilter(field_name="program_account"))
    status = django_filters.ChoiceFilter(choices=Refund.Status.choices)

    class Meta:
        model = Refund
        fields = ["program_account", "status"]


@extend_schema_view(
    list=extend_schema(summary=_("Refund requests of the RM accounts you see")),
    retrieve=extend_schema(summary=_("One refund request")),
    create=extend_schema(
        summary=_("Ask for a refund of an RM account's credit"),
        description=_(
            "Only when no debt remains; for a credit of at least CARM REFUND_THRESHOLD (1,000.00), or a "
            "smaller credit that has stood on two statements running. Paid to the importer only, once the "
            "CBSA (staff) approves it."
        ),
        request=RefundRequestInputSerializer,
        parameters=[idempotency.openapi_parameter()],
        responses={201: RefundSerializer},
    ),
)
class RefundViewSet(mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    serializer_class = RefundSerializer
    queryset = Refund.objects.none()
    filterset_class = RefundFilter

    def get_queryset(self):
        return Refund.objects.filter(program_account_id__in=_billing_ids(self.request.user)).select_related(
            "program_account", "payee"
        )

    @idempotency.idempotent
    def create(self, request):
        data = RefundRequestInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        account = get_program_account_or_404(request.user, Scope.PAYMENTS, data.validated_data["program_account"])
        refund = services.refund_request(
            actor=request.user, program_account=account, amount=data.validated_data.get("amount"),
            reason=data.validated_data.get("reason", ""),
        )
        refund = self.get_queryset().get(pk=refund.pk)
        return Response(RefundSerializer(refund).data, status=status.HTTP_201_CREATED)


@extend_schema_view(
    list=extend_schema(summary=_("Offsetting preference of each importer you see")),
    retrieve=extend_schema(summary=_("One importer's offsetting preference"),
                           description=_("The path id is the business's id.")),
    partial_update=extend_schema(
        summary=_("Change an importer's offsetting preference"),
        description=_("For the importer's Business Account Manager, or a broker with the financial scope "
                      "on all of its RM accounts."),
        request=PreferenceUpdateInputSerializer,
        responses=PreferenceSerializer,
    ),
)
class PreferenceViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = PreferenceSerializer
    queryset = Business.objects.none()
    http_method_names = ["get", "patch", "head", "options"]

    def get_queryset(self):
        return businesses_for(self.request.user, Scope.BILLING).order_by("legal_name", "id")

    def _context(self, businesses):
        changers = services.preference_changers(self.request.user, [b.pk for b in businesses])
        return {**self.get_serializer_context(), "changers": changers}

    def list(self, request):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(PreferenceSerializer(page, many=True, context=self._context(page)).data)

    def retrieve(self, request, pk=None):
        business = self.get_object()
        return Response(PreferenceSerializer(business, context=self._context([business])).data)

    def partial_update(self, request, pk=None):
        business = self.get_object()
        data = PreferenceUpdateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        business = services.preference_update(
            actor=request.user, business=business, preference=data.validated_data["offsetting_preference"]
        )
        return Response(PreferenceSerializer(business, context=self._context([business])).data)
