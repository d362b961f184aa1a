from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from . import health


@never_cache
@require_GET
def healthz(request):
    """Liveness: the process answers (nothing else; see ``/readyz`` for its dependencies)."""
    return JsonResponse({"status": "ok"})


@never_cache
@require_GET
def readyz(request):
    """Readiness: database, Redis and a recent worker heartbeat; 503 naming what failed."""
    ok, body = health.readiness()
    return JsonResponse(body, status=200 if ok else 503)
