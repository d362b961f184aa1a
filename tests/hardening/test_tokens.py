"""API tokens expire (API_TOKEN_TTL) and are revoked by a password change or reset."""

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests import factories

API = "/api/v1"


def _token(user):
    response = APIClient().post(f"{API}/auth/token/", {"email": user.email, "password": factories.PASSWORD})
    assert response.status_code == 200, response.content
    return response.json()["token"]


def _me(key):
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return api.get(f"{API}/me/")


@pytest.fixture
def user(importer):
    return importer.bam


def test_a_fresh_token_works(user):
    assert _me(_token(user)).status_code == 200


def test_an_expired_token_is_refused_and_a_new_login_issues_a_new_one(user, settings):
    settings.API_TOKEN_TTL = timedelta(days=30)
    key = _token(user)
    Token.objects.filter(key=key).update(created=timezone.now() - timedelta(days=30, seconds=1))
    response = _me(key)
    assert response.status_code in (401, 403)  # 403: session auth comes first
    assert "expired" in response.json()["detail"]
    assert not Token.objects.filter(key=key).exists()
    new_key = _token(user)
    assert new_key != key and _me(new_key).status_code == 200


def test_token_login_replaces_an_expired_token(user):
    key = _token(user)
    Token.objects.filter(key=key).update(created=timezone.now() - timedelta(days=365))
    new_key = _token(user)
    assert new_key != key and _me(new_key).status_code == 200


def test_token_within_its_lifetime_is_reused(user):
    key = _token(user)
    Token.objects.filter(key=key).update(created=timezone.now() - timedelta(days=29))
    assert _token(user) == key and _me(key).status_code == 200


def test_password_change_page_revokes_tokens(client, user):
    key = _token(user)
    client.force_login(user)
    response = client.post(reverse("password_change"), {
        "old_password": factories.PASSWORD, "new_password1": "N3w-secret-pass", "new_password2": "N3w-secret-pass"})
    assert response.status_code == 302
    assert _me(key).status_code in (401, 403)
    assert not Token.objects.filter(user=user).exists()


def test_password_reset_revokes_tokens(client, user, mailoutbox):
    key = _token(user)
    client.post(reverse("password_reset"), {"email": user.email})
    link = re.search(r"http://testserver(/password/reset/\S+/)", mailoutbox[0].body).group(1)
    response = client.get(link, follow=True)
    response = client.post(response.redirect_chain[-1][0], {"new_password1": "N3w-secret-pass",
                                                             "new_password2": "N3w-secret-pass"})
    assert response.status_code == 302
    assert _me(key).status_code in (401, 403)


def test_set_password_anywhere_revokes_tokens_but_other_saves_do_not(user):
    key = _token(user)
    user.first_name = "Renamed"
    user.save()
    user.save(update_fields=["last_login"])
    assert _me(key).status_code == 200
    user.set_password("An0ther-pass-word")
    user.save()
    assert _me(key).status_code in (401, 403)
