"""Beat schedule for offsetting (a plain dict, no Django imports; collected by carm_portal.celery)."""

from celery.schedules import crontab

BEAT_SCHEDULE = {
    # Daily: credits clear debts on their due date. The sweep fans out one task per account.
    "offsetting-daily-sweep": {
        "task": "billing.offsetting.sweep",
        "schedule": crontab(hour=4, minute=15),
    },
}
