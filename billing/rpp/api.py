"""REST API for RPP security: enrolments, requirements (+ recompute), bonds, deposits,
reduction requests and notices, all under ``/api/v1/security/``.

Every queryset starts from the access gate (Scope.SECURITY to read; inputs take their RM
accounts from Scope.MANAGE_SECURITY); anything outside answers 404. Lists are a constant number
of queries (select_related / prefetch / batched positions).
"""

from __future__ import annotations

import django_filters
from django import forms
from django.db.models import Prefetch
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_field, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from carm_portal import idempotency

from . import forecast, services
from .models import (
    Bond,
    CashDeposit,
    Notice,
    ReductionRequest,
    RppEnrolment,
    RppStatus,
    RppStatusChange,
    SecurityForecast,
    SecurityRequirement,
)
from .selectors import (
    bonds_for,
    deposits_for,
    enrolments_for,
    notices_for,
    positions_for,
    reductions_for,
    requirements_for,
    security_accounts,
)
from .serializers import (
    BondAllocateInputSerializer,
    BondCreateInputSerializer,
    BondSerializer,
    CashDepositSerializer,
    DepositCreateInputSerializer,
    EnrolmentRequestInputSerializer,
    EstimateInputSerializer,
    ForecastInputSerializer,
    ForecastSerializer,
    RecomputeInputSerializer,
    ReductionCreateInputSerializer,
    ReductionRequestSerializer,
    RppEnrolmentSerializer,
    SecurityNoticeSerializer,
    SecurityRequirementSerializer,
    WhatIfSerializer,
    WithdrawInputSerializer,
)


class _IdFilter(django_filters.Filter):
    field_class = forms.IntegerField


def _account_filter():
    return extend_schema_field(OpenApiTypes.INT)(
        _IdFilter(field_name="program_account", help_text=_("Only this RM account."))
    )


class EnrolmentFilter(django_filters.FilterSet):
    program_account = _account_filter()
    rpp_status = django_filters.ChoiceFilter(field_name="status", choices=RppStatus.choices)

    class Meta:
        model = RppEnrolment
        fields = ["program_account", "rpp_status"]


class RequirementFilter(django_filters.FilterSet):
    program_account = _account_filter()
    is_current = django_filters.BooleanFilter(help_text=_("Only the current requirement of each RM account."))

    class Meta:
        model = SecurityRequirement
        fields = ["program_account", "is_current"]


class AccountOnlyFilter(django_filters.FilterSet):
    program_account = _account_filter()


class DepositFilter(AccountOnlyFilter):
    class Meta:
        model = CashDeposit
        fields = ["program_account"]


class ReductionFilter(AccountOnlyFilter):
    review_status = django_filters.ChoiceFilter(field_name="status", choices=ReductionRequest.Status.choices)

    class Meta:
        model = ReductionRequest
        fields = ["program_account", "review_status"]


class NoticeFilter(AccountOnlyFilter):
    notice_kind = django_filters.ChoiceFilter(field_name="kind", choices=Notice.Kind.choices)
    unread = django_filters.BooleanFilter(field_name="read_at", lookup_expr="isnull", help_text=_("Only unread."))

    class Meta:
        model = Notice
        fields = ["program_account", "notice_kind", "unread"]


def _manageable(request):
    return security_accounts(request.user, manage=True).select_related("business")


# --- Enrolments ----------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(summary=_("RPP enrolments of the RM accounts you may see, with their status history")),
    retrieve=extend_schema(summary=_("One RPP enrolment")),
    create=extend_schema(
        summary=_("Request RPP enrolment for an RM account"),
        description=_("The enrolment becomes enrolled once posted security covers the (freshly computed) requirement."),
        request=EnrolmentRequestInputSerializer, responses={201: RppEnrolmentSerializer},
    ),
    withdraw=extend_schema(summary=_("Withdraw an RM account from RPP"), request=WithdrawInputSerializer,
                           responses=RppEnrolmentSerializer),
)
class EnrolmentViewSet(mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    serializer_class = RppEnrolmentSerializer
    queryset = RppEnrolment.objects.none()
    filterset_class = EnrolmentFilter

    def get_queryset(self):
        return enrolments_for(self.request.user).select_related("program_account").prefetch_related(
            Prefetch("changes", queryset=RppStatusChange.objects.select_related("actor"))
        ).order_by("program_account__number")

    def _one(self, pk, *, code=status.HTTP_200_OK):
        return Response(RppEnrolmentSerializer(self.get_queryset().get(pk=pk)).data, status=code)

    def create(self, request, *args, **kwargs):
        data = EnrolmentRequestInputSerializer(data=request.data, accounts=_manageable(request))
        data.is_valid(raise_exception=True)
        enrolment = services.enrolment_request(
            actor=request.user, program_account=data.validated_data["program_account"],
            monthly_estimate=data.validated_data.get("monthly_estimate"),
        )
        return self._one(enrolment.pk, code=status.HTTP_201_CREATED)

    @action(detail=True, methods=["post"])
    def withdraw(self, request, pk=None):
        enrolment = self.get_object()
        pa = _manageable(request).filter(pk=enrolment.program_account_id).first()
        if pa is None:
            from django.http import Http404

            raise Http404
        data = WithdrawInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.enrolment_set_status(actor=request.user, program_account=pa, status=RppStatus.WITHDRAWN,
                                      reason=data.validated_data.get("reason") or str(_("Withdrawn through the API.")))
        return self._one(enrolment.pk)


# --- Requirements --------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(summary=_("Security requirements (every computation, with its 12 monthly inputs)")),
    retrieve=extend_schema(summary=_("One security requirement")),
    recompute=extend_schema(
        summary=_("Refresh an RM account's forecast (if the review were today); the binding requirement stays"),
        request=RecomputeInputSerializer, responses={201: SecurityRequirementSerializer}),
    estimate=extend_schema(summary=_("What if: the security a monthly estimate would call for (nothing is stored)"),
                           request=EstimateInputSerializer, responses={200: WhatIfSerializer}),
)
class RequirementViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = SecurityRequirementSerializer
    queryset = SecurityRequirement.objects.none()
    filterset_class = RequirementFilter

    def get_queryset(self):
        return requirements_for(self.request.user).select_related("program_account").order_by("-computed_at", "-id")

    def _context_for(self, rows):
        current = [r.program_account for r in rows if r.is_current]
        forecasts = {f.program_account_id: f for f in SecurityForecast.objects.filter(program_account__in=current)}
        return {**self.get_serializer_context(), "positions": positions_for(current), "forecasts": forecasts}

    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(
            SecurityRequirementSerializer(page, many=True, context=self._context_for(page)).data
        )

    def retrieve(self, request, *args, **kwargs):
        obj = self.get_object()
        return Response(SecurityRequirementSerializer(obj, context=self._context_for([obj])).data)

    def _created(self, req):
        req = SecurityRequirement.objects.select_related("program_account").get(pk=req.pk)
        return Response(SecurityRequirementSerializer(req, context=self._context_for([req])).data, status=status.HTTP_201_CREATED)

    @action(detail=False, methods=["post"])
    def recompute(self, request):
        data = RecomputeInputSerializer(data=request.data, accounts=_manageable(request))
        data.is_valid(raise_exception=True)
        return self._created(services.requirement_recompute(actor=request.user, **data.validated_data))

    @extend_schema(request=ForecastInputSerializer, responses=ForecastSerializer,
                   summary=_("Forecast the next annual review, with a what-if (writes nothing)"))
    @action(detail=False, methods=["post"])
    def forecast(self, request):
        data = ForecastInputSerializer(data=request.data, accounts=security_accounts(request.user))
        data.is_valid(raise_exception=True)
        values = data.validated_data
        result = forecast.review_forecast(
            values["program_account"], today=timezone.localdate(), method=values["method"],
            run_rate=values.get("run_rate"),
            months={m["period"]: m["amount"] for m in values.get("months", [])},
            one_offs=[(m["period"], m["amount"]) for m in values.get("one_offs", [])],
        )
        return Response(ForecastSerializer(result).data)

    @action(detail=False, methods=["post"])
    def estimate(self, request):
        data = EstimateInputSerializer(data=request.data, accounts=_manageable(request))
        data.is_valid(raise_exception=True)
        what_if = services.estimate_what_if(actor=request.user, **data.validated_data)
        return Response(WhatIfSerializer(what_if).data)


# --- Bonds and deposits --------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(summary=_("Bonds / eWSAs covering RM accounts you may see")),
    retrieve=extend_schema(summary=_("One bond / eWSA")),
    create=extend_schema(summary=_("Record a bond / eWSA and its allocations to RM accounts"),
                         request=BondCreateInputSerializer, responses={201: BondSerializer}),
    allocate=extend_schema(summary=_("Set how much of a bond covers one RM account"),
                           request=BondAllocateInputSerializer, responses=BondSerializer),
)
class BondViewSet(mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    serializer_class = BondSerializer
    queryset = Bond.objects.none()

    def get_queryset(self):
        return bonds_for(self.request.user).order_by("-effective_date", "-id")

    def _one(self, pk, *, code=status.HTTP_200_OK):
        return Response(BondSerializer(self.get_queryset().get(pk=pk)).data, status=code)

    @idempotency.idempotent
    def create(self, request, *args, **kwargs):
        data = BondCreateInputSerializer(data=request.data, accounts=_manageable(request))
        data.is_valid(raise_exception=True)
        terms = dict(data.validated_data)
        terms["kind"] = terms.pop("bond_kind")
        allocations = [(a["program_account"], a["amount"]) for a in terms.pop("allocations")]
        bond = services.bond_record(actor=request.user, business=allocations[0][0].business,
                                    allocations=allocations, **terms)
        return self._one(bond.pk, code=status.HTTP_201_CREATED)

    @action(detail=True, methods=["post"])
    def allocate(self, request, pk=None):
        bond = self.get_object()
        data = BondAllocateInputSerializer(data=request.data, accounts=_manageable(request))
        data.is_valid(raise_exception=True)
        services.bond_allocate(actor=request.user, bond=bond, **data.validated_data)
        return self._one(bond.pk)


@extend_schema_view(
    list=extend_schema(summary=_("Cash security deposits")),
    retrieve=extend_schema(summary=_("One cash security deposit")),
    create=extend_schema(summary=_("Record a cash security deposit (posted to the ledger as security_deposit)"),
                         request=DepositCreateInputSerializer, responses={201: CashDepositSerializer}),
)
class DepositViewSet(mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    serializer_class = CashDepositSerializer
    queryset = CashDeposit.objects.none()
    filterset_class = DepositFilter

    def get_queryset(self):
        return deposits_for(self.request.user).order_by("-received_date", "-id")

    @idempotency.idempotent
    def create(self, request, *args, **kwargs):
        data = DepositCreateInputSerializer(data=request.data, accounts=_manageable(request))
        data.is_valid(raise_exception=True)
        deposit = services.cash_deposit_record(actor=request.user, **data.validated_data)
        return Response(CashDepositSerializer(self.get_queryset().get(pk=deposit.pk)).data, status=status.HTTP_201_CREATED)


# --- Reductions and notices ----------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(summary=_("Requests for a lower security amount")),
    retrieve=extend_schema(summary=_("One reduction request")),
    create=extend_schema(summary=_("Ask for a lower bond amount (staff review it)"),
                         request=ReductionCreateInputSerializer, responses={201: ReductionRequestSerializer}),
)
class ReductionViewSet(mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    serializer_class = ReductionRequestSerializer
    queryset = ReductionRequest.objects.none()
    filterset_class = ReductionFilter

    def get_queryset(self):
        return reductions_for(self.request.user).order_by("-requested_at", "-id")

    def create(self, request, *args, **kwargs):
        data = ReductionCreateInputSerializer(data=request.data, accounts=_manageable(request))
        data.is_valid(raise_exception=True)
        rr = services.reduction_request(actor=request.user, **data.validated_data)
        return Response(ReductionRequestSerializer(self.get_queryset().get(pk=rr.pk)).data, status=status.HTTP_201_CREATED)


@extend_schema_view(
    list=extend_schema(summary=_("Security notices (shortfalls, expiring bonds, review results)")),
    retrieve=extend_schema(summary=_("One notice")),
    read=extend_schema(summary=_("Mark a notice as read"), request=None, responses=SecurityNoticeSerializer),
)
class NoticeViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = SecurityNoticeSerializer
    queryset = Notice.objects.none()
    filterset_class = NoticeFilter

    def get_queryset(self):
        return notices_for(self.request.user).order_by("-created_at", "-id")

    @action(detail=True, methods=["post"])
    def read(self, request, pk=None):
        # A write: only on notices of accounts whose security the user may manage (not a Reader).
        notice = self.get_object()
        notice = get_object_or_404(notices_for(request.user, manage=True), pk=notice.pk)
        notice = services.notice_mark_read(notice=notice)
        return Response(SecurityNoticeSerializer(notice).data)
