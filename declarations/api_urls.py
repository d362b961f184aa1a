"""CAD endpoints, included under /api/v1/ by carm_portal.urls."""

from rest_framework.routers import SimpleRouter

from . import api, api_reference

router = SimpleRouter()
router.register("cads", api.CadViewSet, basename="api-cad")
router.register("tariff-items", api.TariffItemViewSet, basename="api-tariff-item")
router.register("exchange-rates", api.ExchangeRateViewSet, basename="api-exchange-rate")
router.register("tariff-treatments", api_reference.TariffTreatmentViewSet, basename="api-tariff-treatment")
router.register("gst-statuses", api_reference.GstStatusViewSet, basename="api-gst-status")
router.register("reason-codes", api_reference.ReasonCodeViewSet, basename="api-reason-code")

urlpatterns = router.urls
