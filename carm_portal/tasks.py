from celery import shared_task
from django.utils import timezone


@shared_task(name="carm_portal.tasks.heartbeat")
def heartbeat() -> str:
    """Proves a worker (and beat) are alive: the ops page shows its last run, /readyz its time."""
    from . import health

    health.record_worker_heartbeat()
    return timezone.now().isoformat()


@shared_task(name="carm_portal.outbox.sweep", acks_late=True, soft_time_limit=120, time_limit=150)
def sweep_outbox() -> int:
    """Every minute (beat): send again the outbox items that are pending or were lost."""
    from . import health, outbox

    health.record_worker_heartbeat()
    return outbox.sweep()


@shared_task(name="carm_portal.outbox.send_mail", acks_late=True)
def send_mail_task(subject: str, body: str, recipients: list[str], from_email: str | None = None) -> int:
    """An email recorded in the outbox (``outbox.send_mail_later``); raises so the outbox retries."""
    from django.core.mail import send_mail

    return send_mail(subject, body, from_email, recipients, fail_silently=False)


@shared_task(name="carm_portal.idempotency.purge", acks_late=True, soft_time_limit=600, time_limit=660)
def purge_idempotency_keys() -> int:
    """Daily (beat): forget Idempotency-Keys older than CARM["IDEMPOTENCY_RETENTION_DAYS"]."""
    from . import idempotency

    return idempotency.purge_expired()
