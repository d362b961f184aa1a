"""Beat schedule for carm_portal (a plain dict, no Django imports; collected by carm_portal.celery)."""

from celery.schedules import crontab

BEAT_SCHEDULE = {
    # Idempotency-Keys older than CARM["IDEMPOTENCY_RETENTION_DAYS"] are deleted, in batches.
    "idempotency-purge": {"task": "carm_portal.idempotency.purge", "schedule": crontab(minute=15, hour=3)},
}
