"""``Authorization: Token <key>`` authentication against hashed API keys."""

from __future__ import annotations

from django.utils import timezone
from rest_framework import authentication, exceptions

from arena.models import ApiKey, hash_secret


class ApiKeyAuthentication(authentication.TokenAuthentication):
    keyword = "Token"

    def authenticate_credentials(self, key: str):  # type: ignore[override]
        try:
            api_key = ApiKey.objects.select_related("user").get(key_hash=hash_secret(key))
        except ApiKey.DoesNotExist:
            raise exceptions.AuthenticationFailed("Invalid API key.") from None
        if not api_key.is_active:
            raise exceptions.AuthenticationFailed("This API key has been revoked.")
        if not api_key.user.is_active:
            raise exceptions.AuthenticationFailed("User inactive or deleted.")
        now = timezone.now()
        if api_key.last_used_at is None or (now - api_key.last_used_at).total_seconds() > 60:
            ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
        return api_key.user, api_key
