"""Liveness and readiness, telling the truth.

``/healthz`` (liveness): the process answers; nothing else is checked, so a database or Redis
outage never makes an orchestrator kill healthy web processes. ``/readyz`` (readiness): the
database answers, Redis answers (cache and broker), and a Celery worker has written its heartbeat
within ``WORKER_HEARTBEAT_MAX_AGE_SECONDS`` (the heartbeat task and the outbox sweeper write it,
every minute, and a worker writes it when it starts). 503 names the checks that failed.
In the zero-setup demo (no broker, eager tasks) there is no Redis and no worker to check.
"""

from __future__ import annotations

import logging
import time

from django.conf import settings
from django.utils import timezone

from .conf import carm

logger = logging.getLogger(__name__)

HEARTBEAT_KEY = "carm:worker-heartbeat"
REDIS_TIMEOUT = 1.0


def record_worker_heartbeat() -> None:
    """Called in a worker: remember that a worker ran just now (best effort)."""
    from django.core.cache import cache

    try:
        cache.set(HEARTBEAT_KEY, time.time(), timeout=24 * 3600)
    except Exception as exc:  # Redis down: /readyz reports Redis itself
        logger.warning("Worker heartbeat not recorded: %s", exc)


def _eager() -> bool:
    return bool(getattr(settings, "CELERY_TASK_ALWAYS_EAGER", False))


def check_database() -> str | None:
    from django.db import connection

    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"[:300]
    return None


def _redis_urls() -> list[str]:
    urls = []
    cache_url = getattr(settings, "REDIS_URL", "")
    if cache_url:
        urls.append(cache_url)
    broker = getattr(settings, "CELERY_BROKER_URL", "")
    if broker and broker.startswith(("redis://", "rediss://")) and not _eager() and broker not in urls:
        urls.append(broker)
    return urls


def check_redis() -> str | None:
    import redis

    for url in _redis_urls():
        try:
            redis.Redis.from_url(url, socket_connect_timeout=REDIS_TIMEOUT, socket_timeout=REDIS_TIMEOUT).ping()
        except Exception as exc:
            return f"{type(exc).__name__}: {exc}"[:300]
    return None


def check_worker() -> str | None:
    if _eager():
        return None
    from django.core.cache import cache

    try:
        seen = cache.get(HEARTBEAT_KEY)
    except Exception as exc:
        return f"heartbeat unreadable ({type(exc).__name__})"
    if seen is None:
        return "no worker heartbeat yet"
    age = time.time() - float(seen)
    if age > carm("WORKER_HEARTBEAT_MAX_AGE_SECONDS"):
        return f"last worker heartbeat {int(age)} s ago"
    return None


CHECKS = {"database": check_database, "redis": check_redis, "worker": check_worker}


def readiness() -> tuple[bool, dict]:
    results = {}
    for name, check in CHECKS.items():
        if name == "worker" and results.get("redis", {}).get("ok") is False:
            results[name] = {"ok": False, "error": "redis is down"}
            continue
        error = check()
        results[name] = {"ok": error is None, **({"error": error} if error else {})}
    ok = all(r["ok"] for r in results.values())
    return ok, {"status": "ok" if ok else "unavailable", "checks": results, "time": timezone.now().isoformat()}
