"""One idempotency mechanism for every POST that creates money or documents (decision 12).

A client sends ``Idempotency-Key: <unique per intended operation>``. The first request with a key
claims it (an ``IdempotentRequest`` row) *in the same transaction* as its work and stores the
response it gave; then

* the same key and the same request (endpoint and body) → the original response again
  (status and body; header ``Idempotent-Replayed: true``), nothing done twice;
* the same key and another request (another body, another endpoint, e.g. another payment
  method) → 409, nothing done;
* concurrent requests with one key: the first holds the key's unique-index entry until it
  commits; the others wait on it, then replay its response (one row, every caller the same
  answer). If the first fails, its claim rolls back with its work and a retry runs afresh.

Keys are per user. API views use ``@idempotent`` (DRF methods); a service that takes a key from a
web form (the CAD form's hidden field) uses ``claim`` / ``remember`` in its own transaction.

Keys are kept ``CARM["IDEMPOTENCY_RETENTION_DAYS"]`` days (default 30): ``purge_expired`` (beat,
daily, ``carm_portal/schedule.py``) deletes older rows in batches; a key reused after that is a
new request.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable
from typing import Any

from django.db import connection, transaction
from django.utils.translation import gettext as _

HEADER = "Idempotency-Key"
PURGE_BATCH = 5000  # rows per DELETE: short transactions, no long lock on the table
PURGE_MAX_BATCHES = 200  # per run (1,000,000 rows); the rest waits for the next day
MAX_KEY_LENGTH = 100
REPLAYED_HEADER = "Idempotent-Replayed"


class IdempotencyConflict(Exception):
    """The key was used for a different request (answered 409)."""

    def __init__(self, message: str | None = None):
        super().__init__(message or _("This Idempotency-Key was already used for a different request."))
        self.message = str(self.args[0])


class _NotStored(Exception):
    def __init__(self, result):
        self.result = result


def _canonical(value: Any) -> Any:
    """A JSON-able, order-independent form of a request body (files by name, size and digest)."""
    if hasattr(value, "read") and hasattr(value, "size"):
        digest = hashlib.sha256()
        for chunk in value.chunks():
            digest.update(chunk)
        value.seek(0)
        return {"file": getattr(value, "name", ""), "size": value.size, "sha256": digest.hexdigest()}
    if hasattr(value, "lists"):  # QueryDict / MultiValueDict
        return {k: [_canonical(v) for v in vs] for k, vs in sorted(value.lists())}
    if isinstance(value, dict):
        return {str(k): _canonical(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, (list, tuple)):
        return [_canonical(v) for v in value]
    return value


def fingerprint(endpoint: str, data: Any) -> str:
    payload = json.dumps({"endpoint": endpoint, "data": _canonical(data)}, sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()


def clean_key(raw: str | None) -> str | None:
    key = (raw or "").strip()
    if not key:
        return None
    if len(key) > MAX_KEY_LENGTH:
        from carm_portal.exceptions import ApplicationError

        message = _("An Idempotency-Key has at most %(n)d characters.") % {"n": MAX_KEY_LENGTH}
        raise ApplicationError(message, field_errors={"idempotency_key": [message]})
    return key


def claim(*, user, key: str, endpoint: str, request_hash: str):
    """Inside the caller's transaction: ``(row, None)`` when this request now holds the key, or
    ``(row, (status, body))`` when an earlier identical request completed. ``IdempotencyConflict``
    for another request with the key (or, without row locks, one still running). The caller
    does its work, then ``remember(row, status, body)`` in the same transaction."""
    from .models import IdempotentRequest

    endpoint = endpoint[:300]
    row = _insert_claim(user=user, key=key, endpoint=endpoint, request_hash=request_hash)
    if row is not None:
        return row, None
    # Another request holds or held the key; on PostgreSQL we waited for it to commit.
    row = IdempotentRequest.objects.filter(user=user, key=key).first()
    if row is None:
        raise IdempotencyConflict(_("A request with this Idempotency-Key is still being processed."))
    if row.endpoint != endpoint or row.request_hash != request_hash:
        raise IdempotencyConflict()
    if row.response_status is None:  # only without row locks (SQLite): still running
        raise IdempotencyConflict(_("A request with this Idempotency-Key is still being processed."))
    return row, (row.response_status, row.response_body)


def _insert_claim(*, user, key: str, endpoint: str, request_hash: str):
    """The key's new row, or None when another request holds or held it: ``INSERT … ON CONFLICT DO
    NOTHING RETURNING`` (PostgreSQL and SQLite), so a taken key is no error and needs no savepoint."""
    from .models import IdempotentRequest

    row = IdempotentRequest(user=user, key=key, endpoint=endpoint, request_hash=request_hash)
    quote = connection.ops.quote_name
    columns = ("user_id", "key", "endpoint", "request_hash", "created_at")
    values = [user.pk, key, endpoint, request_hash, connection.ops.adapt_datetimefield_value(row.created_at)]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {quote(IdempotentRequest._meta.db_table)} ({', '.join(map(quote, columns))}) "  # noqa: S608
            f"VALUES ({', '.join(['%s'] * len(columns))}) ON CONFLICT DO NOTHING RETURNING {quote('id')}",
            values,
        )
        inserted = cursor.fetchone()
    if inserted is None:
        return None
    row.pk = inserted[0]
    row._state.adding = False
    row._state.db = connection.alias
    return row


def remember(row, status: int, body: Any) -> None:
    row.response_status, row.response_body = status, body
    row.save(update_fields=["response_status", "response_body"])


def run(*, user, key: str, endpoint: str, request_hash: str,
        produce: Callable[[], tuple[int, Any, Any]]) -> tuple[int, Any, Any | None]:
    """Do ``produce`` once per (user, key): returns ``(status, body, result)``; ``result`` is what
    ``produce`` returned third on the first call, None on a replay. ``produce`` runs inside the
    transaction that holds the claim; a non-2xx status is answered but not stored (its work, if
    any, rolls back with the claim, so the client may retry with the same key)."""
    try:
        with transaction.atomic():
            row, done = claim(user=user, key=key, endpoint=endpoint, request_hash=request_hash)
            if done is not None:
                return done[0], done[1], None
            status, body, result = produce()
            if not 200 <= status < 300:
                raise _NotStored((status, body, result))
            remember(row, status, body)
            return status, body, result
    except _NotStored as not_stored:
        return not_stored.result


def _conflict_response(exc: IdempotencyConflict):
    from rest_framework.response import Response

    return Response({"detail": exc.message, "idempotency_key": [exc.message]}, status=409)


def idempotent(method):
    """For a DRF view method that creates money or documents: honour ``Idempotency-Key``."""

    @functools.wraps(method)
    def wrapper(self, request, *args, **kwargs):
        from rest_framework.renderers import JSONRenderer
        from rest_framework.response import Response

        key = clean_key(request.headers.get(HEADER))
        if key is None:
            return method(self, request, *args, **kwargs)
        endpoint = f"{request.method} {request.path}"

        def produce():
            response = method(self, request, *args, **kwargs)
            data = getattr(response, "data", None)
            # Stored as the rendered text: a replay has the original's bytes (jsonb reorders keys).
            body = JSONRenderer().render(data).decode() if data is not None else None
            return response.status_code, body, response

        try:
            status, body, response = run(user=request.user, key=key, endpoint=endpoint,
                                         request_hash=fingerprint(endpoint, request.data), produce=produce)
        except IdempotencyConflict as exc:
            return _conflict_response(exc)
        if response is not None:
            return response
        replay = Response(json.loads(body) if isinstance(body, str) else body, status=status)
        replay[REPLAYED_HEADER] = "true"
        return replay

    return wrapper


FORM_FIELD = "idempotency_key"  # the hidden field of a web form that creates money or documents


def new_form_key() -> str:
    """A fresh key for a web form's hidden ``idempotency_key`` field (its initial value)."""
    import uuid

    return uuid.uuid4().hex


def form_post(request, produce: Callable[[], Any]):
    """For a web form POST that creates money or documents (post/redirect/get). ``produce`` handles
    the POST and returns a redirect when the work is done, or None (the view shows the form again):
    ``form_post`` returns the same.

    With a key in the form's hidden field: the redirect is remembered (its ``Location``); the same
    key and form again (a double click, a reload after a lost answer) → the same redirect, nothing
    done twice; the same key with another form → ``ApplicationError`` on ``idempotency_key`` (the
    view shows it as a form error). Anything but a redirect is not remembered and rolls back with
    the claim, so the user can correct the form and send it again with the same key."""
    from django.http import HttpResponseRedirect

    key = clean_key(request.POST.get(FORM_FIELD))
    if key is None:
        return produce()
    endpoint = f"{request.method} {request.path}"
    data = {k: v for k, v in request.POST.lists() if k not in (FORM_FIELD, "csrfmiddlewaretoken")}
    data["__files__"] = dict(request.FILES.lists())

    def _produce():
        response = produce()
        if response is not None and response.status_code in (301, 302, 303):
            return 200, {"location": response["Location"]}, response
        return 422, None, response  # not remembered: the claim rolls back

    try:
        status, body, response = run(user=request.user, key=key, endpoint=endpoint,
                                      request_hash=fingerprint(endpoint, data), produce=_produce)
    except IdempotencyConflict as exc:
        from carm_portal.exceptions import ApplicationError

        raise ApplicationError(exc.message, field_errors={FORM_FIELD: [exc.message]}) from None
    if status != 200 or response is not None:
        return response
    return HttpResponseRedirect(body["location"])


def purge_expired(*, now=None, batch: int = PURGE_BATCH, max_batches: int = PURGE_MAX_BATCHES) -> int:
    """Delete the keys older than ``CARM["IDEMPOTENCY_RETENTION_DAYS"]``, ``batch`` rows per
    statement (each its own transaction, oldest first by id: rows are created in id order, so the
    scan stops at the first young row); the number deleted."""
    from datetime import timedelta

    from django.utils import timezone

    from .conf import carm
    from .models import IdempotentRequest

    cutoff = (now or timezone.now()) - timedelta(days=carm("IDEMPOTENCY_RETENTION_DAYS"))
    deleted = 0
    for _batch in range(max_batches):
        ids = list(IdempotentRequest.objects.filter(created_at__lt=cutoff).order_by("pk")
                   .values_list("pk", flat=True)[:batch])
        if not ids:
            break
        with transaction.atomic():
            deleted += IdempotentRequest.objects.filter(pk__in=ids).delete()[0]
        if len(ids) < batch:
            break
    return deleted


IDEMPOTENCY_PARAMETER_DESCRIPTION = (
    "A unique key per intended operation (e.g. a UUID). A retry with the same key and body returns the "
    "original response (header Idempotent-Replayed: true); the same key with another request answers 409."
)


def openapi_parameter():
    """The header as an OpenAPI parameter, for ``extend_schema(parameters=[...])``."""
    from drf_spectacular.types import OpenApiTypes
    from drf_spectacular.utils import OpenApiParameter

    return OpenApiParameter(HEADER, OpenApiTypes.STR, OpenApiParameter.HEADER, required=False,
                            description=IDEMPOTENCY_PARAMETER_DESCRIPTION)
