from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import (
    SpectacularAPIView,
    SpectacularRedocView,
    SpectacularSwaggerSplitView,
)

from .views import healthz, readyz

# Each app owns its URL modules; the prefixes are fixed here.
api_v1 = [
    # brokers first: its delegations/bulk-request/ must win over the delegations router's detail route.
    path("", include("brokers.api_urls")),
    path("", include("accounts.api_urls")),
    path("", include("declarations.api_urls")),
    path("", include("billing.api_urls")),
    path("", include("billing.rpp.api_urls")),
    path("", include("billing.offsetting.api_urls")),
    path("", include("appeals.api_urls")),
]

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves its script from a URL, not inline: the CSP allows no inline script.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="schema"), name="api-redoc"),
    path("declarations/", include("declarations.urls")),
    path("billing/", include("billing.urls")),
    path("security/", include("billing.rpp.urls")),
    path("offsetting/", include("billing.offsetting.urls")),
    path("appeals/", include("appeals.urls")),
    path("brokers/", include("brokers.urls")),
    path("", include("accounts.urls")),
]

if settings.DEBUG:
    from django.contrib.staticfiles.urls import staticfiles_urlpatterns

    urlpatterns += staticfiles_urlpatterns()
