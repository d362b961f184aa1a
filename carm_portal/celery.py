"""The Celery app. Tasks are autodiscovered in each app's ``tasks.py``.

The beat schedule is collected from each app's ``schedule.py`` (a plain ``BEAT_SCHEDULE`` dict,
no Django imports) so a fresh database gets it; django-celery-beat lets admins adjust it
afterwards. Run exactly one beat process (two beats duplicate every run).
"""

import os

from celery import Celery
from celery.schedules import crontab

from .modules import import_optional

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "carm_portal.settings")

app = Celery("carm_portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

SCHEDULE_MODULES = [
    "declarations.schedule",
    "billing.schedule",
    "billing.rpp.schedule",
    "billing.offsetting.schedule",
    "appeals.schedule",
]


def collect_beat_schedule() -> dict:
    schedule = {
        # Proves a worker (and beat) are alive; the operations page shows its last run.
        "heartbeat": {"task": "carm_portal.tasks.heartbeat", "schedule": crontab(minute="*/15")},
    }
    for name in SCHEDULE_MODULES:
        module = import_optional(name)
        if module is not None:
            schedule.update(module.BEAT_SCHEDULE)
    return schedule


app.conf.beat_schedule = collect_beat_schedule()
