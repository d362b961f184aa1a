"""Login lockout behind a proxy: the real client IP (X-Forwarded-For, N-th from the right) keys
the lockout together with the username, so an attacker cannot lock a victim out from elsewhere."""

import pytest
from django.test import Client, RequestFactory
from django.urls import reverse
from rest_framework.test import APIClient

from carm_portal.client_ip import client_ip
from tests import factories

PROXY = "10.0.0.1"


def _req(xff=None, remote=PROXY):
    extra = {"REMOTE_ADDR": remote}
    if xff is not None:
        extra["HTTP_X_FORWARDED_FOR"] = xff
    return RequestFactory().get("/", **extra)


@pytest.mark.parametrize(("count", "xff", "expected"), [
    (0, "6.6.6.6", PROXY),                            # no proxy configured: the header is ignored
    (1, "203.0.113.5", "203.0.113.5"),                # nginx appended the client
    (1, "6.6.6.6, 203.0.113.5", "203.0.113.5"),       # a forged entry on the left is ignored
    (2, "6.6.6.6, 203.0.113.5, 10.0.0.2", "203.0.113.5"),  # load balancer + nginx
    (2, "203.0.113.5", PROXY),                        # fewer entries than proxies: the real peer
    (1, None, PROXY),
    (1, "", PROXY),
    (1, "not-an-ip", PROXY),
    (1, "203.0.113.5:4711", "203.0.113.5"),
    (1, "[2001:db8::1]:443", "2001:db8::1"),
    (1, " 2001:db8::2 ", "2001:db8::2"),
])
def test_client_ip_takes_the_nth_entry_from_the_right(settings, count, xff, expected):
    settings.CLIENT_IP_PROXY_COUNT = count
    assert client_ip(_req(xff)) == expected


def test_axes_uses_the_helper(settings):
    from axes.helpers import get_client_ip_address

    settings.CLIENT_IP_PROXY_COUNT = 1
    assert get_client_ip_address(_req("6.6.6.6, 198.51.100.7")) == "198.51.100.7"


def _fail(client, user, ip):
    return client.post(reverse("login"), {"username": user.email, "password": "wrong"},
                       REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=ip)


def test_attacker_behind_the_proxy_cannot_lock_out_the_victim(db, settings, importer):
    settings.AXES_ENABLED = True
    settings.CLIENT_IP_PROXY_COUNT = 1
    attacker, victim_ip = "198.51.100.66", "203.0.113.10"
    attacker_client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        response = _fail(attacker_client, importer.bam, attacker)
    assert response.status_code == 429
    # The attacker's own (IP, user) pair is locked, even with the right password, and forging
    # X-Forwarded-For on the left changes nothing: the proxy appends the real address.
    response = attacker_client.post(reverse("login"), {"username": importer.bam.email, "password": factories.PASSWORD},
                                    REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=f"{victim_ip}, {attacker}")
    assert response.status_code == 429
    # The victim, from their own IP through the same proxy, still logs in.
    victim = Client()
    response = victim.post(reverse("login"), {"username": importer.bam.email, "password": factories.PASSWORD},
                           REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=victim_ip)
    assert response.status_code == 302
    assert victim.session["_auth_user_id"] == str(importer.bam.pk)


def test_api_token_login_lockout_is_per_ip_too(db, settings, importer):
    settings.AXES_ENABLED = True
    settings.AXES_FAILURE_LIMIT = 3
    settings.CLIENT_IP_PROXY_COUNT = 1
    api = APIClient()
    for _ in range(3):
        api.post("/api/v1/auth/token/", {"email": importer.bam.email, "password": "wrong"},
                 REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="198.51.100.66")
    locked = api.post("/api/v1/auth/token/", {"email": importer.bam.email, "password": factories.PASSWORD},
                      REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="198.51.100.66")
    assert locked.status_code == 429
    ok = api.post("/api/v1/auth/token/", {"email": importer.bam.email, "password": factories.PASSWORD},
                  REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="203.0.113.10")
    assert ok.status_code == 200 and ok.json()["token"]
