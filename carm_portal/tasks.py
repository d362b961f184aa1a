from celery import shared_task
from django.utils import timezone


@shared_task(name="carm_portal.tasks.heartbeat")
def heartbeat() -> str:
    """A no-op that proves a worker (and beat) are alive; the ops page shows its last run."""
    return timezone.now().isoformat()
