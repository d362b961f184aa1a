"""Beat schedule for RPP security (a plain dict; no Django imports). Times are CELERY_TIMEZONE."""

from celery.schedules import crontab

BEAT_SCHEDULE = {
    # Daily; the task runs the annual review on CARM["RPP_REVIEW_MONTH"/"RPP_REVIEW_DAY"] only
    # (20 October, over the 12 months to 19 October; increases due 15 January), so the day is a
    # setting. A rerun on the review day is a no-op.
    "rpp-annual-review": {
        "task": "billing.rpp.annual_review",
        "schedule": crontab(minute=0, hour=3),
    },
    # The 26th: after the statement of the 25th, refresh every forecast ("if the review were today").
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
