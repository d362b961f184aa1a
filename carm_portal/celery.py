"""The Celery app. Tasks are autodiscovered in each app's ``tasks.py``.

The beat schedule lives in code here so a fresh database gets it; django-celery-beat lets
admins adjust it afterwards. Run exactly one beat process (two beats duplicate every run).
"""

import os

from celery import Celery
from celery.schedules import crontab

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "carm_portal.settings")

app = Celery("carm_portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

app.conf.beat_schedule = {
    # Placeholders filled by the billing issue: the statement day is the 25th.
    "heartbeat": {"task": "carm_portal.tasks.heartbeat", "schedule": crontab(minute="*/15")},
}
