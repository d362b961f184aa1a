"""API tokens that expire and die with the password.

- ``ExpiringTokenAuthentication`` refuses (and deletes) a token older than ``API_TOKEN_TTL``
  (env ``API_TOKEN_TTL_DAYS``, 30 days by default): a client logs in again for a new one.
- Changing a user's password (the password-change page, a reset link, the admin, a script)
  deletes the user's tokens: whoever held the old password loses the API too.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db.models.signals import post_save, pre_save
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token


def ttl() -> timedelta:
    return getattr(settings, "API_TOKEN_TTL", timedelta(days=30))


def is_expired(token: Token) -> bool:
    return token.created <= timezone.now() - ttl()


def issue(user) -> Token:
    """The user's token for a fresh login: the current one, or a new one if it expired."""
    token = Token.objects.filter(user=user).first()
    if token is not None and is_expired(token):
        token.delete()
        token = None
    if token is None:
        token, _created = Token.objects.get_or_create(user=user)
    return token


class ExpiringTokenAuthentication(TokenAuthentication):
    """``Authorization: Token <key>``, refused once the token is older than ``API_TOKEN_TTL``."""

    def authenticate_credentials(self, key):
        user, token = super().authenticate_credentials(key)
        if is_expired(token):
            token.delete()
            raise exceptions.AuthenticationFailed(_("Token has expired. Log in again for a new one."))
        return user, token


def _remember_password_change(sender, instance, update_fields=None, **kwargs):
    instance._carm_password_changed = False
    if instance.pk is None or (update_fields is not None and "password" not in update_fields):
        return
    old = sender._default_manager.filter(pk=instance.pk).values_list("password", flat=True).first()
    instance._carm_password_changed = old is not None and old != instance.password


def _revoke_tokens_on_password_change(sender, instance, created=False, **kwargs):
    if not created and getattr(instance, "_carm_password_changed", False):
        Token.objects.filter(user=instance).delete()
        instance._carm_password_changed = False


def connect() -> None:
    user_model = settings.AUTH_USER_MODEL
    pre_save.connect(_remember_password_change, sender=user_model, dispatch_uid="carm-token-pw-pre")
    post_save.connect(_revoke_tokens_on_password_change, sender=user_model, dispatch_uid="carm-token-pw-post")
