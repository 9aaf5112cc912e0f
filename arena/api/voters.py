"""Who is voting: the authenticated user, or an anonymous browser's signed cookie.

``battles/next/`` sets the ``ludus_voter`` cookie (a random id, signed with ``SECRET_KEY``,
HttpOnly, SameSite=Lax) when an anonymous client has none; ``votes/`` reads it back. The
database only ever sees an HMAC of the identity (:func:`arena.services.votes.voter_hash_make`).
"""

from __future__ import annotations

import secrets
from typing import Any

from arena.services.votes import ip_hash_make, voter_hash_make

COOKIE_NAME = "ludus_voter"
COOKIE_SALT = "ludus.voter"
COOKIE_MAX_AGE = 365 * 24 * 3600


def anon_id_get(request: Any) -> str | None:
    """The anonymous voter id from the signed cookie, or ``None`` (missing or tampered)."""
    django_request = getattr(request, "_request", request)
    try:  # read (an HMAC check) once per request: the throttle and the view both ask
        return django_request._ludus_anon_id
    except AttributeError:
        pass
    value = django_request.get_signed_cookie(COOKIE_NAME, default=None, salt=COOKIE_SALT, max_age=COOKIE_MAX_AGE)
    django_request._ludus_anon_id = value or None
    return value or None


def voter_identity(request: Any, *, create: bool) -> tuple[str | None, str | None]:
    """``(voter_hash, new_cookie_value)``; the second is set only when a cookie must be issued."""
    user = request.user
    if user is not None and user.is_authenticated:
        return voter_hash_make(user_id=user.pk), None
    anon_id = anon_id_get(request)
    if anon_id:
        return voter_hash_make(anon_id=anon_id), None
    if not create:
        return None, None
    anon_id = secrets.token_urlsafe(18)
    return voter_hash_make(anon_id=anon_id), anon_id


def set_voter_cookie(response: Any, anon_id: str, *, secure: bool) -> None:
    response.set_signed_cookie(
        COOKIE_NAME, anon_id, salt=COOKIE_SALT, max_age=COOKIE_MAX_AGE, httponly=True, samesite="Lax", secure=secure
    )


def client_ip(request: Any) -> str:
    return request.META.get("REMOTE_ADDR", "") or ""


def request_ip_hash(request: Any) -> str:
    return ip_hash_make(ip=client_ip(request))
