"""The client's IP address, behind a known number of reverse proxies. One helper for everyone.

django-axes (``AXES_CLIENT_IP_CALLABLE``) and the audit trail both call :func:`client_ip`, so a
lockout and an audit row name the same address.

``CLIENT_IP_PROXY_COUNT`` (env ``AXES_PROXY_COUNT``) says how many proxies we run in front of
the app. Each proxy *appends* the address it received the request from to ``X-Forwarded-For``
(nginx ``$proxy_add_x_forwarded_for``), so with N proxies the last N entries were written by
our proxies and the client is the N-th entry from the right; anything to its left was sent by
the client and may be forged. With 0 proxies the header is ignored (REMOTE_ADDR is the client).
If the header has fewer than N entries, or the entry is not an IP, the request did not come
through our proxies as configured: REMOTE_ADDR is used (the real peer, never a forged value).
"""

from __future__ import annotations

import ipaddress

from django.conf import settings


def _valid_ip(value: str) -> str | None:
    value = value.strip()
    if value.startswith("[") and "]" in value:  # "[2001:db8::1]:443"
        value = value[1 : value.index("]")]
    elif value.count(":") == 1:  # "203.0.113.5:443"
        value = value.split(":", 1)[0]
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None


def client_ip(request) -> str | None:
    """The client IP for ``request`` (an HttpRequest or anything with ``META``), or None."""
    meta = getattr(request, "META", None) or {}
    remote = _valid_ip(meta.get("REMOTE_ADDR") or "")
    proxies = int(getattr(settings, "CLIENT_IP_PROXY_COUNT", 0) or 0)
    if proxies <= 0:
        return remote
    forwarded = [part for part in (meta.get("HTTP_X_FORWARDED_FOR") or "").split(",") if part.strip()]
    if len(forwarded) < proxies:
        return remote
    return _valid_ip(forwarded[-proxies]) or remote
