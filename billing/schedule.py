"""Beat schedule for billing (a plain dict, no Django imports; collected by carm_portal.celery)."""

from celery.schedules import crontab

BEAT_SCHEDULE = {
    # The statement day: close the period that ended on the 17th.
    "billing-cycle": {"task": "billing.run_billing_cycle", "schedule": crontab(minute=0, hour=2, day_of_month=25)},
    # Sweeper: finalize runs whose finalizer was lost, re-enqueue stale chunks (a killed worker).
    "billing-finalize-runs": {"task": "billing.finalize_open_runs", "schedule": crontab(minute="*")},
    # Daily notices for yesterday's postings (EDI sends them Tue–Sat; we build every day with activity).
    "billing-daily-notices": {"task": "billing.build_daily_notices", "schedule": crontab(minute=30, hour=1)},
}
