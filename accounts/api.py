"""REST API for accounts: token login, "me", businesses, RM accounts, delegations, readiness.

Every queryset starts from the access gate (``accounts.access``); anything outside it answers
404, never 403. Filters only narrow a gated queryset. Views parse, gate, call one service and
serialize; business-rule errors (``ApplicationError``) become 400 with field messages in
``carm_portal.api.exception_handler``.
"""

from __future__ import annotations

import django_filters
from django import forms
from django.contrib.auth import authenticate, user_logged_in
from django.db.models import Prefetch, Q, QuerySet
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import exceptions, mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from carm_portal.exceptions import ApplicationError

from . import services, tokens
from .access import (
    active_memberships,
    businesses_for,
    delegations_in_force,
    managed_businesses,
    program_accounts_for,
)
from .models import Business, Delegation, Membership, ProgramAccount, User
from .readiness import readiness_for
from .roles import Right, Scope, roles_with
from .serializers import (
    BusinessSerializer,
    BusinessUpdateInputSerializer,
    DelegationGrantInputSerializer,
    DelegationRequestInputSerializer,
    DelegationSerializer,
    DelegationUpdateInputSerializer,
    MeSerializer,
    ProgramAccountSerializer,
    ReadinessSerializer,
    TokenObtainInputSerializer,
    TokenSerializer,
)

# --- Selectors the API needs (no accounts/selectors.py yet) -------------------------------------


def _own_broker_firms(user: User) -> QuerySet[Business]:
    return Business.objects.filter(
        kind=Business.Kind.BROKER, id__in=active_memberships(user).values("business_id")
    )


def _visible_businesses(user: User) -> QuerySet[Business]:
    """The importers the user may act for, plus the broker firm(s) it works for."""
    return Business.objects.filter(
        Q(id__in=businesses_for(user, Scope.ACCOUNT).values("id"))
        | Q(id__in=_own_broker_firms(user).values("id"))
    )


def _visible_delegations(user: User) -> QuerySet[Delegation]:
    """Delegations the user deals with, on either side.

    Importer side: every delegation of a business where the user is business-wide manager
    (BAM); for a PAM, those that cover its RM account (program delegations naming it, and
    business-wide ones). Broker side: every delegation held by a firm the user manages.
    """
    managers = active_memberships(user).filter(role__in=roles_with(Right.GRANT_DELEGATIONS))
    business_wide = managers.filter(program_account__isnull=True)
    rm_bound = managers.filter(program_account__isnull=False)
    naming_my_rm = Delegation.program_accounts.through.objects.filter(
        programaccount_id__in=rm_bound.values("program_account_id")
    ).values("delegation_id")
    broker_firms = managed_businesses(user, Right.GRANT_DELEGATIONS).filter(kind=Business.Kind.BROKER)
    return Delegation.objects.filter(
        Q(importer_id__in=business_wide.filter(business__kind=Business.Kind.IMPORTER).values("business_id"))
        | Q(coverage=Delegation.Coverage.PROGRAM, id__in=naming_my_rm)
        | Q(coverage=Delegation.Coverage.BUSINESS, importer_id__in=rm_bound.values("business_id"))
        | Q(broker_id__in=broker_firms.values("id"))
    )


def _with_delegation_relations(qs: QuerySet[Delegation]) -> QuerySet[Delegation]:
    return qs.select_related("importer", "broker").prefetch_related(
        Prefetch("program_accounts", queryset=ProgramAccount.objects.order_by("number"))
    )


# --- Filters -------------------------------------------------------------------------------------


class _IdFilter(django_filters.Filter):
    field_class = forms.IntegerField


_SCOPE_CHOICES = [(scope.name.lower(), scope.name.lower()) for scope in Scope]


class ProgramAccountFilter(django_filters.FilterSet):
    business = extend_schema_field(OpenApiTypes.INT)(
        _IdFilter(field_name="business", help_text=_("Only this business's RM accounts."))
    )
    scope = django_filters.ChoiceFilter(
        choices=_SCOPE_CHOICES, method="filter_scope",
        help_text=_("Only the RM accounts you may act on for this scope (e.g. billing, declarations)."),
    )

    class Meta:
        model = ProgramAccount
        fields = ["business", "scope"]

    def filter_scope(self, queryset, name, value):
        # An intersection with the gate: a filter narrows, it never widens.
        allowed = program_accounts_for(self.request.user, Scope[value.upper()])
        return queryset.filter(id__in=allowed.values("id"))


class DelegationFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=Delegation.Status.choices)
    importer = extend_schema_field(OpenApiTypes.INT)(_IdFilter(field_name="importer"))
    broker = extend_schema_field(OpenApiTypes.INT)(_IdFilter(field_name="broker"))

    class Meta:
        model = Delegation
        fields = ["status", "importer", "broker"]


# --- Auth and "me" -------------------------------------------------------------------------------


class LoginLockedOut(exceptions.APIException):
    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    default_detail = _("Too many failed login attempts. Try again later or ask an administrator.")
    default_code = "locked_out"


class TokenObtainApi(APIView):
    """Trade an email and password for an API token (``Authorization: Token <key>``)."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(
        request=TokenObtainInputSerializer,
        responses={
            200: TokenSerializer,
            400: OpenApiResponse(description=_("Missing fields or wrong email/password.")),
            429: OpenApiResponse(description=_("Locked out after repeated failed attempts.")),
        },
        auth=[],
    )
    def post(self, request):
        data = TokenObtainInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        # ``request=`` and ``username=`` so django-axes counts failures per (email, IP) and
        # refuses a locked-out login before the password is even checked.
        user = authenticate(
            request=request, username=data.validated_data["email"].lower(),
            password=data.validated_data["password"],
        )
        if user is None:
            if getattr(request, "axes_locked_out", False):
                raise LoginLockedOut
            raise exceptions.ValidationError(
                {"non_field_errors": [_("Unable to log in with this email and password.")]}
            )
        # Resets axes' failure count and records last_login, as a web login does.
        user_logged_in.send(sender=user.__class__, request=request, user=user)
        # A fresh token when the old one expired (accounts/tokens.py).
        token = tokens.issue(user)
        return Response(TokenSerializer({"token": token.key}).data)


class MeApi(APIView):
    """The signed-in user, its memberships, the importers it may act for and, for a broker's
    employee, the delegations in force it acts through."""

    @extend_schema(responses=MeSerializer)
    def get(self, request):
        user = request.user
        memberships = Membership.objects.filter(user=user).select_related("business", "program_account")
        businesses = businesses_for(user, Scope.ACCOUNT).order_by("legal_name")
        held = _with_delegation_relations(
            delegations_in_force().filter(
                broker_id__in=_own_broker_firms(user).values("id"),
                importer_id__in=businesses_for(user, Scope.ACCOUNT).values("id"),
            )
        )
        me = {"user": user, "memberships": memberships, "businesses": businesses, "delegations_held": held}
        return Response(MeSerializer(me).data)


# --- Businesses ----------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(summary=_("Importers you may act for, and your own broker firm")),
    retrieve=extend_schema(summary=_("One business")),
    partial_update=extend_schema(
        summary=_("Update a business you manage"),
        request=BusinessUpdateInputSerializer,
        responses=BusinessSerializer,
    ),
)
class BusinessViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = BusinessSerializer
    queryset = Business.objects.none()
    http_method_names = ["get", "patch", "head", "options"]

    def get_queryset(self):
        return _visible_businesses(self.request.user).order_by("legal_name", "id")

    def partial_update(self, request, pk=None):
        business = self.get_object()
        data = BusinessUpdateInputSerializer(business, data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        business = services.business_update(actor=request.user, business=business, **data.validated_data)
        return Response(BusinessSerializer(business).data)


# --- RM program accounts -------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(summary=_("RM program accounts you may act on")),
    retrieve=extend_schema(summary=_("One RM program account")),
)
class ProgramAccountViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = ProgramAccountSerializer
    queryset = ProgramAccount.objects.none()
    filterset_class = ProgramAccountFilter

    def get_queryset(self):
        return program_accounts_for(self.request.user, Scope.ACCOUNT).select_related("business").order_by(
            "number"
        )


# --- Delegations ---------------------------------------------------------------------------------

_decision = {"request": None, "responses": DelegationSerializer}


@extend_schema_view(
    list=extend_schema(summary=_("Delegations you grant (importer side) or hold (broker side)")),
    retrieve=extend_schema(summary=_("One delegation")),
    grant=extend_schema(
        summary=_("Importer: grant a delegation to a customs broker (active at once)"),
        description=_(
            "For a business-wide delegation you must be the importer's Business Account Manager; "
            "a Program Account Manager may grant a program delegation for its own RM account."
        ),
        request=DelegationGrantInputSerializer,
        responses={201: DelegationSerializer},
    ),
    ask=extend_schema(
        summary=_("Broker: ask an importer for a delegation (the importer decides)"),
        description=_(
            "The importer is found by its BN9; its BAM (or, for a program delegation limited to "
            "its RM account, its PAM) approves or rejects the request."
        ),
        request=DelegationRequestInputSerializer,
        responses={201: DelegationSerializer},
    ),
    approve=extend_schema(summary=_("Importer: approve a requested delegation"), **_decision),
    reject=extend_schema(summary=_("Importer: reject a requested delegation"), **_decision),
    revoke=extend_schema(summary=_("Either side: revoke a delegation, effective immediately"), **_decision),
    change=extend_schema(
        summary=_("Extend or narrow a delegation in place (RM accounts, scopes, dates)"),
        description=_(
            "The importer's side may widen or narrow; the broker firm's manager may only narrow "
            "(fewer RM accounts or scopes, shorter dates). The access gate follows at once."
        ),
        request=DelegationUpdateInputSerializer,
        responses={200: DelegationSerializer},
    ),
)
class DelegationViewSet(viewsets.ReadOnlyModelViewSet):
    # Creating a delegation has two endpoints, one per side, rather than one endpoint with an
    # "action" field: ``POST delegations/grant/`` (the importer grants; active at once) and
    # ``POST delegations/request/`` (a broker asks; the importer's BAM or PAM decides).

    serializer_class = DelegationSerializer
    queryset = Delegation.objects.none()
    filterset_class = DelegationFilter

    def get_queryset(self):
        return _with_delegation_relations(_visible_delegations(self.request.user)).order_by("-requested_at", "-id")

    def _created(self, delegation: Delegation) -> Response:
        delegation = _with_delegation_relations(Delegation.objects.all()).get(pk=delegation.pk)
        return Response(DelegationSerializer(delegation).data, status=status.HTTP_201_CREATED)

    def _decided(self, delegation: Delegation) -> Response:
        delegation = _with_delegation_relations(Delegation.objects.all()).get(pk=delegation.pk)
        return Response(DelegationSerializer(delegation).data)

    @action(detail=False, methods=["post"], url_path="grant")
    def grant(self, request):
        user = request.user
        data = DelegationGrantInputSerializer(
            data=request.data,
            importers=managed_businesses(user, Right.GRANT_DELEGATIONS).filter(kind=Business.Kind.IMPORTER),
            program_accounts=program_accounts_for(user, Scope.GRANT_DELEGATIONS),
        )
        data.is_valid(raise_exception=True)
        terms = dict(data.validated_data)
        delegation = services.delegation_grant(
            actor=user, importer=terms.pop("importer"), broker_bn9=terms.pop("broker_bn9"), **terms
        )
        return self._created(delegation)

    # Not named ``request``: that would shadow ``self.request``.
    @action(detail=False, methods=["post"], url_path="request")
    def ask(self, request):
        user = request.user
        data = DelegationRequestInputSerializer(
            data=request.data, brokers=managed_businesses(user, Right.GRANT_DELEGATIONS).filter(
                kind=Business.Kind.BROKER
            ).order_by("id"),
        )
        data.is_valid(raise_exception=True)
        terms = dict(data.validated_data)
        delegation = services.delegation_request(
            actor=user, broker=terms.pop("broker"), importer_bn9=terms.pop("importer_bn9"), **terms
        )
        return self._created(delegation)

    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        delegation = services.delegation_decide(actor=request.user, delegation=self.get_object(), approve=True)
        return self._decided(delegation)

    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        delegation = services.delegation_decide(actor=request.user, delegation=self.get_object(), approve=False)
        return self._decided(delegation)

    @action(detail=True, methods=["post"])
    def change(self, request, pk=None):
        delegation = self.get_object()
        data = DelegationUpdateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        terms = dict(data.validated_data)
        numbers = terms.pop("program_account_numbers", None)
        if numbers is not None:
            numbers = sorted({services.normalize_bn(n) for n in numbers})
            # A broker narrowing a program delegation picks among the RM accounts it holds.
            pool = (delegation.importer.program_accounts.all()
                    if delegation.coverage == Delegation.Coverage.BUSINESS
                    or services.can_decide_delegation(request.user, delegation)
                    else delegation.program_accounts.all())
            accounts = list(pool.filter(number__in=numbers))
            if len(accounts) != len(numbers):
                raise ApplicationError(
                    _("Some RM accounts are not the importer's."),
                    field_errors={"program_account_numbers": [_("Not found for this importer.")]},
                )
            terms["program_accounts"] = accounts
        delegation = services.delegation_update(actor=request.user, delegation=delegation, **terms)
        return self._decided(delegation)

    @action(detail=True, methods=["post"])
    def revoke(self, request, pk=None):
        delegation = services.delegation_revoke(actor=request.user, delegation=self.get_object())
        return self._decided(delegation)


# --- Readiness -----------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(summary=_("CARM readiness checklist for each RM account you may act on")),
    retrieve=extend_schema(
        summary=_("CARM readiness checklist for one RM account"),
        description=_("The path id is the RM program account's id."),
    ),
)
class ReadinessViewSet(viewsets.ReadOnlyModelViewSet):
    # Rows are keyed by the RM program account's id: /readiness/<program account id>/.

    serializer_class = ReadinessSerializer
    queryset = ProgramAccount.objects.none()
    filterset_class = ProgramAccountFilter

    def get_queryset(self):
        return program_accounts_for(self.request.user, Scope.ACCOUNT).select_related("business").order_by(
            "number"
        )

    def list(self, request):
        # Paginate the gated accounts first, then run the (batched) checks on that page only.
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(ReadinessSerializer(readiness_for(page), many=True).data)

    def retrieve(self, request, pk=None):
        (row,) = readiness_for([self.get_object()])
        return Response(ReadinessSerializer(row).data)
