import pytest

from carm_portal.tasks import heartbeat
from tests.celery_worker import real_worker


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_on_redis_runs_a_task():
    with real_worker() as worker:
        result = heartbeat.apply_async()
        value = result.get(timeout=30)
        assert value[:4].isdigit()
        assert worker.poll() is None
