"""Beat schedule for accounts (a plain dict, no Django imports; collected by carm_portal.celery)."""

from celery.schedules import crontab

BEAT_SCHEDULE = {
    # Deadline-centre email notices; rerun-safe (each notice once: accounts.SentNotice).
    "accounts-deadline-notices": {"task": "accounts.send_deadline_notices", "schedule": crontab(minute=0, hour=7)},
}
