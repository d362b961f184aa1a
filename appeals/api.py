"""REST API for appeals, penalties, statements of adjustment and extension applications.

Every queryset starts from the gate (``appeals.selectors``); outside it: 404. Filing needs
``Scope.FILE_APPEALS`` (checked again in the services); CBSA-side operations need a staff user
(404 otherwise). Business-rule errors answer 400 with field messages.
"""

from __future__ import annotations

import django_filters
from django.http import Http404
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response

from accounts.models import ProgramAccount, User
from accounts.roles import Scope
from carm_portal import idempotency

from . import selectors, services
from .models import Appeal, ExtensionApplication, Penalty, StatementOfAdjustment
from .serializers import (
    AppealCreateInputSerializer,
    AppealDetailSerializer,
    AppealSerializer,
    AppealSubmitInputSerializer,
    AssignInputSerializer,
    DecideInputSerializer,
    DocumentSerializer,
    DocumentUploadInputSerializer,
    ExtensionCreateInputSerializer,
    ExtensionDecideInputSerializer,
    ExtensionSerializer,
    NoteInputSerializer,
    PenaltyCreateInputSerializer,
    PenaltySerializer,
    StatementCreateInputSerializer,
    StatementOfAdjustmentSerializer,
)


class _IdFilter(django_filters.NumberFilter):
    """A plain id filter: it only narrows the gated queryset (a ModelChoiceFilter would validate
    the id against every row of the table and so tell whether another importer's row exists)."""


class AppealFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=Appeal.Status.choices)
    kind = django_filters.ChoiceFilter(choices=Appeal.Kind.choices)
    program_account = _IdFilter(field_name="program_account_id")

    class Meta:
        model = Appeal
        fields = ["status", "kind", "program_account"]


class PenaltyFilter(django_filters.FilterSet):
    program_account = _IdFilter(field_name="program_account_id")

    class Meta:
        model = Penalty
        fields = ["program_account"]


class StatementFilter(django_filters.FilterSet):
    program_account = _IdFilter(field_name="program_account_id")
    cad = _IdFilter(field_name="cad_id")

    class Meta:
        model = StatementOfAdjustment
        fields = ["program_account", "cad"]


def _require_cbsa(request) -> None:
    if not selectors.is_cbsa(request.user):
        raise Http404


def _input(serializer_class, request):
    data = serializer_class(data=request.data)
    data.is_valid(raise_exception=True)
    return data.validated_data


_transition = {"responses": {200: AppealDetailSerializer}}


@extend_schema_view(
    list=extend_schema(summary=_("Appeals you may see")),
    retrieve=extend_schema(summary=_("One appeal, with its timeline and documents")),
    create=extend_schema(summary=_("Start an appeal (a draft): against one NPA or one or more statements"),
                         request=AppealCreateInputSerializer, responses={201: AppealDetailSerializer}),
    submit=extend_schema(summary=_("File the appeal with CBSA"), request=AppealSubmitInputSerializer, **_transition),
    withdraw=extend_schema(summary=_("Withdraw the appeal"), request=NoteInputSerializer, **_transition),
    documents=extend_schema(summary=_("Upload a supporting document (PDF, PNG or JPEG)"),
                            request={"multipart/form-data": DocumentUploadInputSerializer},
                            parameters=[idempotency.openapi_parameter()], responses={201: DocumentSerializer}),
    acknowledge=extend_schema(summary=_("CBSA: acknowledge"), request=NoteInputSerializer, **_transition),
    assign=extend_schema(summary=_("CBSA: assign to an officer"), request=AssignInputSerializer, **_transition),
    request_info=extend_schema(summary=_("CBSA: request information (30 days)"), request=NoteInputSerializer,
                               **_transition),
    reject_incomplete=extend_schema(summary=_("CBSA: reject as incomplete"), request=NoteInputSerializer,
                                    **_transition),
    decide=extend_schema(summary=_("CBSA: render the decision"), request=DecideInputSerializer,
                         parameters=[idempotency.openapi_parameter()], **_transition),
    close=extend_schema(summary=_("CBSA: close the file"), request=NoteInputSerializer, **_transition),
)
class AppealViewSet(mixins.ListModelMixin, mixins.CreateModelMixin, mixins.RetrieveModelMixin,
                    viewsets.GenericViewSet):
    queryset = Appeal.objects.none()
    serializer_class = AppealSerializer
    filterset_class = AppealFilter

    def get_queryset(self):
        qs = selectors.with_list_relations(selectors.visible_appeals(self.request.user))
        if self.action != "list":
            qs = qs.prefetch_related("transitions__actor", "transitions__assigned_to", "documents")
        return qs.order_by("-created_at", "-id")

    def get_serializer_class(self):
        return AppealSerializer if self.action == "list" else AppealDetailSerializer

    def _out(self, appeal, code=status.HTTP_200_OK):
        appeal = self.get_queryset().get(pk=appeal.pk)
        return Response(AppealDetailSerializer(appeal, context=self.get_serializer_context()).data, status=code)

    @idempotency.idempotent
    def create(self, request, *args, **kwargs):
        data = _input(AppealCreateInputSerializer, request)
        user = request.user
        penalty = None
        if data.get("penalty"):
            penalty = selectors.get_penalty_for_user_or_404(user, data["penalty"], Scope.FILE_APPEALS)
        ids = set(data.get("statements") or [])
        statements = list(selectors.statements_for(user, Scope.FILE_APPEALS).filter(pk__in=ids))
        if len(statements) != len(ids):
            raise Http404
        appeal = services.appeal_create(actor=user, penalty=penalty, statements=statements,
                                        issue=data.get("issue", ""), grounds=data.get("grounds", ""))
        return self._out(appeal, status.HTTP_201_CREATED)

    @action(detail=True, methods=["post"])
    @idempotency.idempotent
    def submit(self, request, pk=None):
        data = _input(AppealSubmitInputSerializer, request)
        return self._out(services.appeal_submit(actor=request.user, appeal=self.get_object(),
                                                grounds=data.get("grounds")))

    @action(detail=True, methods=["post"])
    def withdraw(self, request, pk=None):
        data = _input(NoteInputSerializer, request)
        return self._out(services.appeal_withdraw(actor=request.user, appeal=self.get_object(), note=data["note"]))

    @action(detail=True, methods=["post"], parser_classes=[MultiPartParser, FormParser])
    @idempotency.idempotent
    def documents(self, request, pk=None):
        data = _input(DocumentUploadInputSerializer, request)
        document = services.document_add(actor=request.user, appeal=self.get_object(), uploaded=data["file"])
        return Response(DocumentSerializer(document).data, status=status.HTTP_201_CREATED)

    # --- CBSA ---------------------------------------------------------------------------------

    def _staff_object(self):
        _require_cbsa(self.request)
        return self.get_object()

    @action(detail=True, methods=["post"], parser_classes=[JSONParser, FormParser])
    def acknowledge(self, request, pk=None):
        appeal = self._staff_object()
        data = _input(NoteInputSerializer, request)
        return self._out(services.appeal_acknowledge(actor=request.user, appeal=appeal, note=data["note"]))

    @action(detail=True, methods=["post"], parser_classes=[JSONParser, FormParser])
    def assign(self, request, pk=None):
        appeal = self._staff_object()
        data = _input(AssignInputSerializer, request)
        officer = User.objects.filter(pk=data["officer"]).first()
        if officer is None:
            raise Http404
        return self._out(services.appeal_assign(actor=request.user, appeal=appeal, officer=officer, note=data["note"]))

    @action(detail=True, methods=["post"], url_path="request-info", parser_classes=[JSONParser, FormParser])
    def request_info(self, request, pk=None):
        appeal = self._staff_object()
        data = _input(NoteInputSerializer, request)
        return self._out(services.appeal_request_info(actor=request.user, appeal=appeal, note=data["note"]))

    @action(detail=True, methods=["post"], url_path="reject-incomplete", parser_classes=[JSONParser, FormParser])
    def reject_incomplete(self, request, pk=None):
        appeal = self._staff_object()
        data = _input(NoteInputSerializer, request)
        return self._out(services.appeal_reject_incomplete(actor=request.user, appeal=appeal, note=data["note"]))

    @action(detail=True, methods=["post"], parser_classes=[JSONParser, FormParser])
    @idempotency.idempotent
    def decide(self, request, pk=None):
        appeal = self._staff_object()
        data = _input(DecideInputSerializer, request)
        return self._out(services.appeal_decide(actor=request.user, appeal=appeal, outcome=data["outcome"],
                                                reasons=data["reasons"], amount=data.get("amount")))

    @action(detail=True, methods=["post"], parser_classes=[JSONParser, FormParser])
    def close(self, request, pk=None):
        appeal = self._staff_object()
        data = _input(NoteInputSerializer, request)
        return self._out(services.appeal_close(actor=request.user, appeal=appeal, note=data["note"]))


@extend_schema_view(
    list=extend_schema(summary=_("AMPS penalties (NPAs) on the accounts you may see")),
    retrieve=extend_schema(summary=_("One NPA")),
    create=extend_schema(summary=_("CBSA: serve an NPA (posts the penalty to the ledger)"),
                         request=PenaltyCreateInputSerializer, responses={201: PenaltySerializer}),
)
class PenaltyViewSet(mixins.ListModelMixin, mixins.CreateModelMixin, mixins.RetrieveModelMixin,
                     viewsets.GenericViewSet):
    queryset = Penalty.objects.none()
    serializer_class = PenaltySerializer
    filterset_class = PenaltyFilter

    def get_queryset(self):
        return selectors.penalties_for(self.request.user).select_related("program_account").order_by("-served_on", "-id")

    @idempotency.idempotent
    def create(self, request, *args, **kwargs):
        _require_cbsa(request)
        data = _input(PenaltyCreateInputSerializer, request)
        account = ProgramAccount.objects.filter(pk=data.pop("program_account")).first()
        if account is None:
            raise Http404
        penalty = services.penalty_create(actor=request.user, program_account=account, **data)
        return Response(PenaltySerializer(penalty).data, status=status.HTTP_201_CREATED)


@extend_schema_view(
    list=extend_schema(summary=_("Statements of adjustment (re-assessments of CADs)")),
    retrieve=extend_schema(summary=_("One statement of adjustment")),
    create=extend_schema(summary=_("CBSA: re-assess a CAD (posts the difference to the ledger)"),
                         request=StatementCreateInputSerializer, responses={201: StatementOfAdjustmentSerializer}),
)
class StatementOfAdjustmentViewSet(mixins.ListModelMixin, mixins.CreateModelMixin, mixins.RetrieveModelMixin,
                                   viewsets.GenericViewSet):
    queryset = StatementOfAdjustment.objects.none()
    serializer_class = StatementOfAdjustmentSerializer
    filterset_class = StatementFilter

    def get_queryset(self):
        return (selectors.statements_for(self.request.user).select_related("program_account", "cad")
                .order_by("-decision_date", "-id"))

    @idempotency.idempotent
    def create(self, request, *args, **kwargs):
        from declarations.models import CAD

        _require_cbsa(request)
        data = _input(StatementCreateInputSerializer, request)
        cad = CAD.objects.filter(pk=data.pop("cad")).first()
        if cad is None:
            raise Http404
        statement = services.statement_create(actor=request.user, cad=cad, **data)
        return Response(StatementOfAdjustmentSerializer(statement).data, status=status.HTTP_201_CREATED)


@extend_schema_view(
    list=extend_schema(summary=_("Extension applications (s. 60.1)")),
    retrieve=extend_schema(summary=_("One extension application")),
    create=extend_schema(summary=_("Apply for an extension of time to appeal"),
                         request=ExtensionCreateInputSerializer, responses={201: ExtensionSerializer}),
    decide=extend_schema(summary=_("CBSA: grant or refuse"), request=ExtensionDecideInputSerializer,
                         responses={200: ExtensionSerializer}),
)
class ExtensionViewSet(mixins.ListModelMixin, mixins.CreateModelMixin, mixins.RetrieveModelMixin,
                       viewsets.GenericViewSet):
    queryset = ExtensionApplication.objects.none()
    serializer_class = ExtensionSerializer

    def get_queryset(self):
        return selectors.extensions_for(self.request.user).order_by("-requested_on", "-id")

    def create(self, request, *args, **kwargs):
        data = _input(ExtensionCreateInputSerializer, request)
        penalty = statement = None
        if data.get("penalty"):
            penalty = selectors.get_penalty_for_user_or_404(request.user, data["penalty"], Scope.FILE_APPEALS)
        if data.get("statement"):
            statement = selectors.get_statement_for_user_or_404(request.user, data["statement"], Scope.FILE_APPEALS)
        application = services.extension_request(actor=request.user, penalty=penalty, statement=statement,
                                                 reasons=data["reasons"])
        return Response(ExtensionSerializer(application).data, status=status.HTTP_201_CREATED)

    @action(detail=True, methods=["post"])
    def decide(self, request, pk=None):
        _require_cbsa(request)
        data = _input(ExtensionDecideInputSerializer, request)
        application = services.extension_decide(actor=request.user, application=self.get_object(),
                                                grant=data["grant"], note=data["note"])
        return Response(ExtensionSerializer(application).data)
