"""Billing endpoints, included under /api/v1/ by carm_portal.urls (resource names, no prefix)."""

from django.urls import path
from rest_framework.renderers import JSONRenderer
from rest_framework.routers import SimpleRouter

from . import api

router = SimpleRouter()
router.register("statements", api.StatementViewSet, basename="api-statement")
router.register("ledger-entries", api.LedgerEntryViewSet, basename="api-ledger-entry")
router.register("daily-notices", api.DailyNoticeViewSet, basename="api-daily-notice")
router.register("payments", api.PaymentViewSet, basename="api-payment")
router.register("billing-runs", api.BillingRunViewSet, basename="api-billing-run")

urlpatterns = [
    path("money-summary/", api.MoneySummaryApi.as_view(), name="api-money-summary"),
    # A file name, not a router action: the router would add a trailing slash (lines.csv/).
    path("statements/<int:pk>/lines.csv", api.StatementViewSet.as_view(
        {"get": "lines_csv"}, renderer_classes=[JSONRenderer, api.CsvRenderer]),
         name="api-statement-lines-csv"),
    *router.urls,
]
