"""Accounts endpoints, included under /api/v1/ by carm_portal.urls."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from . import api

router = SimpleRouter()
router.register("businesses", api.BusinessViewSet, basename="api-business")
router.register("program-accounts", api.ProgramAccountViewSet, basename="api-program-account")
router.register("delegations", api.DelegationViewSet, basename="api-delegation")
router.register("readiness", api.ReadinessViewSet, basename="api-readiness")

urlpatterns = [
    path("auth/token/", api.TokenObtainApi.as_view(), name="api-token"),
    path("me/", api.MeApi.as_view(), name="api-me"),
    *router.urls,
]
