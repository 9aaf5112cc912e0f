"""Accounts and API keys: users are created by staff (or ``manage.py create_api_key``)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from arena.exceptions import ApplicationError
from arena.models import ApiKey

MAX_ACTIVE_KEYS = 20


def api_key_issue(*, user: Any, name: str = "") -> tuple[ApiKey, str]:
    """Issue a new API key for ``user``.

    Returns
    -------
    (ApiKey, str)
        The stored row (holding only a hash) and the raw key, which is never stored and
        must be shown to the user exactly once.

    Raises
    ------
    ApplicationError
        When the user already holds ``MAX_ACTIVE_KEYS`` active keys.
    """
    active = ApiKey.objects.filter(user=user, revoked_at__isnull=True).count()
    if active >= MAX_ACTIVE_KEYS:
        raise ApplicationError(
            f"You already have {active} active API keys (the limit is {MAX_ACTIVE_KEYS}); "
            "revoke one first.",
            code="too_many_keys",
        )
    return ApiKey.issue(user=user, name=name)


def api_key_revoke(*, api_key: ApiKey) -> ApiKey:
    """Revoke a key (idempotent: revoking a revoked key keeps the first revocation time)."""
    if api_key.revoked_at is None:
        api_key.revoked_at = timezone.now()
        api_key.save(update_fields=["revoked_at"])
    return api_key


@transaction.atomic
def user_create(
    *,
    username: str,
    email: str = "",
    password: str | None = None,
    is_staff: bool = False,
    key_name: str = "first key",
) -> tuple[Any, ApiKey, str]:
    """Create an account with a first API key (staff only, enforced by the caller).

    Without ``password`` the account can use only API keys (no admin/session login).

    Raises
    ------
    ApplicationError
        Username taken or password too weak, with field errors.
    """
    User = get_user_model()
    username = username.strip()
    if not username:
        raise ApplicationError(
            "Invalid input.", field_errors={"username": ["This field may not be blank."]}
        )
    if User.objects.filter(username__iexact=username).exists():
        raise ApplicationError(
            "Invalid input.",
            field_errors={"username": [f"The username {username!r} is already taken."]},
        )
    user = User(username=username, email=email, is_staff=is_staff)
    if password:
        try:
            validate_password(password, user)
        except ValidationError as exc:
            raise ApplicationError(
                "Invalid input.", field_errors={"password": list(exc.messages)}
            ) from None
        user.set_password(password)
    else:
        user.set_unusable_password()
    user.save()
    key, raw = ApiKey.issue(user=user, name=key_name)
    return user, key, raw
