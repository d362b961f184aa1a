"""Beat schedule for appeals (a plain dict, no Django imports): deadline reminders every morning."""

from celery.schedules import crontab

BEAT_SCHEDULE = {
    "appeals-deadline-reminders": {
        "task": "appeals.tasks.send_deadline_reminders",
        "schedule": crontab(hour=6, minute=30),
    },
}
