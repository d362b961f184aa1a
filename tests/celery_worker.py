"""A real Celery worker on Redis for the tests that must not run eagerly (billing cycle).

The worker is a separate process (``celery -A carm_portal worker``) connected to the same
PostgreSQL test database; tests using it need ``transaction=True`` so their rows are committed
and visible to the worker. Without PostgreSQL + Redis these tests skip locally and fail in CI.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.db import connection

from tests.conftest import IN_CI

ROOT = Path(__file__).resolve().parents[1]


def _unavailable(reason: str):
    if IN_CI:
        pytest.fail(f"{reason} (required in CI)")
    pytest.skip(reason)


def redis_url() -> str:
    return os.environ.get("CARM_TEST_REDIS_URL", "")


@contextmanager
def real_worker(*queues: str, concurrency: int = 2, extra_env: dict | None = None):
    """Start a worker process on the test database and Redis; send tasks to it, not eagerly."""
    if connection.vendor != "postgresql":
        _unavailable("a real Celery worker needs PostgreSQL (set DATABASE_URL)")
    url = redis_url()
    if not url:
        _unavailable("a real Celery worker needs Redis (set CARM_TEST_REDIS_URL)")
    import redis

    try:
        redis.Redis.from_url(url).ping()
    except redis.RedisError as exc:
        _unavailable(f"Redis is not reachable at {url}: {exc}")

    from carm_portal.celery import app

    redis.Redis.from_url(url).flushdb()  # a private db number: stale tasks from a killed run go
    settings_dict = connection.settings_dict
    db_url = (
        f"postgres://{settings_dict['USER']}:{settings_dict.get('PASSWORD') or ''}@{settings_dict['HOST']}:"
        f"{settings_dict['PORT'] or 5432}/{settings_dict['NAME']}"
    )
    env = {**os.environ, "DATABASE_URL": db_url, "CELERY_BROKER_URL": url, "CELERY_RESULT_BACKEND": url, "REDIS_URL": "", **(extra_env or {})}
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    queues = queues or ("celery",)
    hostname = f"test-{os.getpid()}-{time.monotonic_ns()}@localhost"
    cmd = [
        sys.executable, "-m", "celery", "-A", "carm_portal", "worker", "-Q", ",".join(queues),
        "--concurrency", str(concurrency), "--pool", "prefork", "-l", "warning", "-n", hostname,
        "--without-mingle", "--without-gossip",
    ]
    old = {k: app.conf.get(k) for k in ("broker_url", "result_backend", "task_always_eager")}
    app.conf.update(broker_url=url, result_backend=url, task_always_eager=False)
    _reset_connections(app)
    process = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        _wait_until_ready(app, hostname, process)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        app.conf.update(**old)
        _reset_connections(app)


def _reset_connections(app) -> None:
    """Drop pooled broker connections and the cached backend so the new URLs take effect."""
    from kombu import pools

    # kombu keeps pools in a global registry keyed by connection: clear it, then drop the
    # app's references (what Celery itself does after a fork).
    pools.reset()
    app._pool = None
    if "amqp" in app.__dict__:
        app.amqp._producer_pool = None
    app._backend_cache = None
    app._local.__dict__.pop("backend", None)


def _wait_until_ready(app, hostname: str, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"Celery worker exited: {process.stdout.read()}")
        replies = app.control.ping(destination=[hostname], timeout=1.0)
        if replies:
            return
    raise RuntimeError("Celery worker did not answer a ping in time")
