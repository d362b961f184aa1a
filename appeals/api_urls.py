"""Appeals endpoints, included under /api/v1/ by carm_portal.urls."""

from rest_framework.routers import SimpleRouter

from . import api

router = SimpleRouter()
router.register("appeals", api.AppealViewSet, basename="api-appeal")
router.register("penalties", api.PenaltyViewSet, basename="api-penalty")
router.register("statements-of-adjustment", api.StatementOfAdjustmentViewSet, basename="api-statement-of-adjustment")
router.register("appeal-extensions", api.ExtensionViewSet, basename="api-appeal-extension")

urlpatterns = router.urls
