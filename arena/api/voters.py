"""Who is voting: the authenticated user, or an anonymous browser's signed cookie.

``battles/next/`` sets the ``ludus_voter`` cookie (a random id, signed with ``SECRET_KEY``,
HttpOnly, SameSite=Lax) when an anonymous client has none; ``votes/`` reads it back. The
database only ever sees an HMAC of the identity (:func:`arena.services.votes.voter_hash_make`).
"""

from __future__ import annotations

import ipaddress
import secrets
from typing import Any

from django.conf import settings

from arena.exceptions import ApplicationError
from arena.services.votes import ip_hash_make, voter_hash_make

COOKIE_NAME = "ludus_voter"
COOKIE_SALT = "ludus.voter"
COOKIE_MAX_AGE = 365 * 24 * 3600


_ANON_ID = "_ludus_anon_id"


def anon_id_get(request: Any) -> str | None:
    """The anonymous voter id from the signed cookie, or ``None`` (missing or tampered).

    Read once per request (the throttle and the view both ask): kept on the request object.
    """
    cached = vars(request).get(_ANON_ID, _ANON_ID)  # vars(): not DRF's attribute proxy
    if cached is not _ANON_ID:
        return cached
    value = request.get_signed_cookie(
        COOKIE_NAME, default=None, salt=COOKIE_SALT, max_age=COOKIE_MAX_AGE
    )
    setattr(request, _ANON_ID, value or None)
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


def voter_hash_required(request: Any, *, next_path: str) -> str:
    """The voter's hash for a vote; 403 ``not_served`` when the request carries no identity.

    ``next_path`` is the endpoint that serves this kind of battle (and sets the cookie).
    """
    voter_hash, _ = voter_identity(request, create=False)
    if voter_hash is None:
        raise ApplicationError(
            f"No voter identity: fetch a battle from {next_path} first "
            "(it sets the ludus_voter cookie).",
            code="not_served",
            status=403,
        )
    return voter_hash


def set_voter_cookie(response: Any, anon_id: str, *, secure: bool) -> None:
    response.set_signed_cookie(
        COOKIE_NAME,
        anon_id,
        salt=COOKIE_SALT,
        max_age=COOKIE_MAX_AGE,
        httponly=True,
        samesite="Lax",
        secure=secure,
    )


def client_ip(request: Any) -> str:
    """The client's address, for throttles and vote records (the one place that decides it).

    ``REMOTE_ADDR``, unless that is one of ``settings.LUDUS_TRUSTED_PROXIES``: then
    ``X-Forwarded-For`` is read from the right (each proxy appends the address it saw) and
    the first address that is not a trusted proxy is the client. Anything a client sends
    itself, to the left of that, is ignored; so is the header of an untrusted peer.
    """
    meta = request.META
    client = meta.get("REMOTE_ADDR", "") or ""
    proxies = settings.LUDUS_TRUSTED_PROXIES
    if not proxies or not _within(client, proxies):
        return client
    for hop in reversed(meta.get("HTTP_X_FORWARDED_FOR", "").split(",")):
        hop = hop.strip()
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            break  # a malformed entry: the last proxy-vouched address is the best we know
        client = hop
        if not _within(hop, proxies):
            break
    return client


def _within(address: str, networks: Any) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def request_ip_hash(request: Any) -> str:
    return ip_hash_make(ip=client_ip(request))
