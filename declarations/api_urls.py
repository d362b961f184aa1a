"""CAD endpoints, included under /api/v1/ by carm_portal.urls."""

from rest_framework.routers import SimpleRouter

from . import api

router = SimpleRouter()
router.register("cads", api.CadViewSet, basename="api-cad")
router.register("tariff-items", api.TariffItemViewSet, basename="api-tariff-item")
router.register("exchange-rates", api.ExchangeRateViewSet, basename="api-exchange-rate")

urlpatterns = router.urls
