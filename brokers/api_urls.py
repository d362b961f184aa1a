"""Broker endpoints, included under /api/v1/ by carm_portal.urls (before accounts' delegations
router, whose ``delegations/<pk>/`` would otherwise take ``delegations/bulk-request/``)."""

from django.urls import path

from . import api

urlpatterns = [
    path("broker-worklists/<str:kind>/", api.BrokerWorklistApi.as_view(), name="api-broker-worklist"),
    path("broker-board/", api.BrokerBoardApi.as_view(), name="api-broker-board"),
    path("delegations/bulk-request/", api.BulkDelegationRequestApi.as_view(), name="api-delegation-bulk-request"),
]
