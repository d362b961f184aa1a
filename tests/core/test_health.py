"""/healthz is liveness (the process answers); /readyz tells the truth about the database, Redis and
the workers (a heartbeat written every minute), with 503 naming what failed."""

from __future__ import annotations

import os
import time

import pytest

from carm_portal import health

pytestmark = pytest.mark.django_db

DOWN = "redis://127.0.0.1:1/0"


@pytest.fixture
def production_like(settings):
    """A broker is configured (no eager tasks): a worker must be seen."""
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.CELERY_BROKER_URL = ""
    settings.REDIS_URL = ""
    return settings


def test_healthz_is_liveness_only(client, settings):
    settings.REDIS_URL = DOWN
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_readyz_in_the_demo_checks_the_database(client):
    response = client.get("/readyz")
    assert response.status_code == 200, response.content
    assert response.json()["checks"]["database"] == {"ok": True}


def test_readyz_says_503_when_redis_is_down(client, production_like):
    production_like.REDIS_URL = DOWN
    started = time.monotonic()
    response = client.get("/readyz")
    assert time.monotonic() - started < 5
    body = response.json()
    assert response.status_code == 503 and body["status"] == "unavailable"
    assert body["checks"]["database"] == {"ok": True}
    assert body["checks"]["redis"]["ok"] is False and "Connection" in body["checks"]["redis"]["error"]
    assert body["checks"]["worker"]["ok"] is False


def test_readyz_needs_a_recent_worker_heartbeat(client, production_like):
    from django.core.cache import cache

    response = client.get("/readyz")
    assert response.status_code == 503 and response.json()["checks"]["worker"]["error"] == "no worker heartbeat yet"
    health.record_worker_heartbeat()
    assert client.get("/readyz").status_code == 200
    cache.set(health.HEARTBEAT_KEY, time.time() - 3600)
    response = client.get("/readyz")
    assert response.status_code == 503 and "ago" in response.json()["checks"]["worker"]["error"]


def test_readyz_with_a_real_redis(client, production_like):
    url = os.environ.get("CARM_TEST_REDIS_URL")
    if not url:
        pytest.skip("set CARM_TEST_REDIS_URL for a real Redis")
    production_like.REDIS_URL = url
    health.record_worker_heartbeat()
    response = client.get("/readyz")
    assert response.status_code == 200 and response.json()["checks"]["redis"] == {"ok": True}


def test_the_heartbeat_task_records_the_worker():
    from django.core.cache import cache

    from carm_portal.tasks import heartbeat, sweep_outbox

    heartbeat()
    assert time.time() - cache.get(health.HEARTBEAT_KEY) < 5
    cache.delete(health.HEARTBEAT_KEY)
    sweep_outbox()
    assert cache.get(health.HEARTBEAT_KEY) is not None


def test_every_task_finishes_within_the_broker_visibility_timeout(settings):
    """acks_late: an unacked task is delivered again after the visibility timeout. It must exceed
    every task's hard time limit (a running task is never delivered twice) and stay short enough
    that a killed worker's tasks come back within minutes."""
    from carm_portal.celery import app

    app.loader.import_default_modules()
    timeout = settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"]
    limits = {name: task.time_limit or app.conf.task_time_limit for name, task in app.tasks.items()
              if not name.startswith("celery.")}
    assert limits and all(limit is not None for limit in limits.values())
    assert max(limits.values()) < timeout <= 30 * 60, limits
