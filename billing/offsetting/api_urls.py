"""Offsetting endpoints, included under /api/v1/ by carm_portal.urls."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from . import api

router = SimpleRouter()
router.register("offsets/allocations", api.AllocationViewSet, basename="api-offset-allocation")
router.register("offsets/credits", api.CreditViewSet, basename="api-offset-credit")
router.register("offsets/debts", api.DebtViewSet, basename="api-offset-debt")
router.register("offsets/refunds", api.RefundViewSet, basename="api-offset-refund")
router.register("offsets/preference", api.PreferenceViewSet, basename="api-offset-preference")

urlpatterns = [
    path("offsets/apply/", api.ManualApplyApi.as_view(), name="api-offset-apply"),
    path("offsets/run/", api.RunApi.as_view(), name="api-offset-run"),
    *router.urls,
]
