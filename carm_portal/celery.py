"""The Celery app. Tasks are autodiscovered in each app's ``tasks.py``.

The beat schedule is collected from each app's ``schedule.py`` (a plain ``BEAT_SCHEDULE`` dict,
no Django imports) so a fresh database gets it; django-celery-beat lets admins adjust it
afterwards. Run exactly one beat process (two beats duplicate every run).
"""

import os

from celery import Celery, signals
from celery.schedules import crontab

from .modules import import_optional

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "carm_portal.settings")

app = Celery("carm_portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

SCHEDULE_MODULES = [
    "accounts.schedule",
    "carm_portal.schedule",
    "declarations.schedule",
    "billing.schedule",
    "billing.rpp.schedule",
    "billing.offsetting.schedule",
    "appeals.schedule",
]


def collect_beat_schedule() -> dict:
    schedule = {
        # Proves a worker (and beat) are alive; the operations page shows its last run, /readyz its age.
        "heartbeat": {"task": "carm_portal.tasks.heartbeat", "schedule": crontab(minute="*")},
        # Work recorded after a commit (carm_portal.outbox) that is still pending or was lost.
        "outbox-sweep": {"task": "carm_portal.outbox.sweep", "schedule": 60.0},
    }
    for name in SCHEDULE_MODULES:
        module = import_optional(name)
        if module is not None:
            schedule.update(module.BEAT_SCHEDULE)
    return schedule


app.conf.beat_schedule = collect_beat_schedule()


@signals.task_success.connect(dispatch_uid="carm-outbox-success")
def _outbox_task_success(sender=None, **kwargs):
    from . import outbox

    outbox.on_task_success(sender=sender, **kwargs)


@signals.task_failure.connect(dispatch_uid="carm-outbox-failure")
def _outbox_task_failure(sender=None, task_id=None, exception=None, **kwargs):
    from . import outbox

    outbox.on_task_failure(sender=sender, task_id=task_id, exception=exception)


@signals.worker_ready.connect(dispatch_uid="carm-worker-heartbeat")
def _worker_ready(**kwargs):
    from . import health

    health.record_worker_heartbeat()
