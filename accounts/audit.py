"""Audit trail: one call per state change, inside the same transaction as the change."""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

from django.db import models

from carm_portal.client_ip import client_ip

from .models import AuditEvent, Business, User

# The client IP of the request being served (set by AuditRequestMiddleware), so every
# record() made while serving a web page or an API call carries it without passing it down.
_request_ip: ContextVar[str | None] = ContextVar("carm_audit_request_ip", default=None)


def current_ip() -> str | None:
    return _request_ip.get()


class AuditRequestMiddleware:
    """Remembers the client IP (proxy-aware, the same helper as the login lockout) for audit."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = _request_ip.set(client_ip(request))
        try:
            return self.get_response(request)
        finally:
            _request_ip.reset(token)


def _jsonable(value: Any) -> Any:
    if isinstance(value, models.Model):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, bool | int | str):
        return value
    return str(value)


def event(
    action: str,
    *,
    actor: User | None,
    target: models.Model | None = None,
    acting_for: Business | None = None,
    changes: dict[str, Any] | None = None,
    ip_address: str | None = None,
) -> AuditEvent:
    """One audit event, not yet saved (``record`` saves it; ``record_all`` saves several at once).

    ``ip_address`` defaults to the client IP of the request being served (None in a task)."""
    return AuditEvent(
        actor=actor if actor is not None and actor.is_authenticated else None,
        acting_for=acting_for,
        action=action,
        target_type=target._meta.label_lower if target is not None else "",
        target_id=str(target.pk) if target is not None else "",
        target_repr=str(target)[:200] if target is not None else "",
        changes=_jsonable(changes or {}),
        ip_address=ip_address or current_ip(),
    )


def record(
    action: str,
    *,
    actor: User | None,
    target: models.Model | None = None,
    acting_for: Business | None = None,
    changes: dict[str, Any] | None = None,
    ip_address: str | None = None,
) -> AuditEvent:
    """Write one audit event. ``action`` is dotted: ``accounts.delegation.revoked``."""
    row = event(action, actor=actor, target=target, acting_for=acting_for, changes=changes, ip_address=ip_address)
    row.save(force_insert=True)
    return row


def record_all(events: list[AuditEvent]) -> list[AuditEvent]:
    """Write events built with ``event`` in one INSERT (a service that records several steps)."""
    return AuditEvent.objects.bulk_create(events)


def diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
    """{field: [old, new]} for the fields that changed."""
    return {k: [before.get(k), after.get(k)] for k in after if before.get(k) != after.get(k)}
