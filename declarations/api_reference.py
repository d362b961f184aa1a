"""Read-only API lookups of the reference tables a CAD line is checked against: tariff treatments
with the origins they allow, GST statuses, and correction/adjustment reason codes."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, viewsets

from .api import _DeclarationsOnly
from .models import GstStatus, ReasonCode, TariffTreatment
from .serializers import GstStatusSerializer, ReasonCodeSerializer, TariffTreatmentSerializer


@extend_schema_view(list=extend_schema(summary=_("Tariff treatments and the countries of origin they allow")))
class TariffTreatmentViewSet(_DeclarationsOnly, mixins.ListModelMixin, viewsets.GenericViewSet):
    serializer_class = TariffTreatmentSerializer
    queryset = TariffTreatment.objects.none()
    pagination_class = None

    def get_queryset(self):
        return TariffTreatment.objects.order_by("sort_order", "code")


@extend_schema_view(list=extend_schema(summary=_("GST statuses (taxable, or non-taxable under ETA Schedule VII)")))
class GstStatusViewSet(_DeclarationsOnly, mixins.ListModelMixin, viewsets.GenericViewSet):
    serializer_class = GstStatusSerializer
    queryset = GstStatus.objects.none()
    pagination_class = None

    def get_queryset(self):
        return GstStatus.objects.order_by("sort_order", "code")


@extend_schema_view(list=extend_schema(summary=_("Reason codes for corrections and adjustments (memo D17-2-1 App. A)")))
class ReasonCodeViewSet(_DeclarationsOnly, mixins.ListModelMixin, viewsets.GenericViewSet):
    serializer_class = ReasonCodeSerializer
    queryset = ReasonCode.objects.none()
    pagination_class = None

    def get_queryset(self):
        return ReasonCode.objects.filter(is_active=True).order_by("sort_order", "code")
