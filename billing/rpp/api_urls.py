"""RPP security endpoints, included under /api/v1/ by carm_portal.urls (paths start with security/)."""

from rest_framework.routers import SimpleRouter

from . import api

router = SimpleRouter()
router.register("security/enrolments", api.EnrolmentViewSet, basename="api-rpp-enrolment")
router.register("security/requirements", api.RequirementViewSet, basename="api-rpp-requirement")
router.register("security/bonds", api.BondViewSet, basename="api-rpp-bond")
router.register("security/deposits", api.DepositViewSet, basename="api-rpp-deposit")
router.register("security/reduction-requests", api.ReductionViewSet, basename="api-rpp-reduction")
router.register("security/notices", api.NoticeViewSet, basename="api-rpp-notice")

urlpatterns = router.urls
