"""Beat schedule for RPP security (a plain dict; no Django imports). Times are CELERY_TIMEZONE."""

from celery.schedules import crontab

BEAT_SCHEDULE = {
    # 20 October: the annual review over the 12 months to 19 October; increases due 15 January.
    "rpp-annual-review": {
        "task": "billing.rpp.annual_review",
        "schedule": crontab(minute=0, hour=3, day_of_month=20, month_of_year=10),
    },
    # The 26th: after the statement of the 25th, recompute every requirement.
    "rpp-monthly-recompute": {
        "task": "billing.rpp.monthly_recompute",
        "schedule": crontab(minute=0, hour=4, day_of_month=26),
    },
    # Daily: bond expiry notices (60/30/7 days), shortfall notices, suspension after the due date.
    "rpp-daily": {
        "task": "billing.rpp.daily",
        "schedule": crontab(minute=30, hour=6),
    },
}
