"""Throttles: per voter and per client IP for the vote flow, per IP or user elsewhere.

DRF's ``SimpleRateThrottle`` (a sliding window kept in the default cache) with two changes:
the rate is read from ``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]`` per request, so tests can
override it with ``settings``, and a client is identified by
:func:`arena.api.voters.client_ip` (``X-Forwarded-For`` counts only from
``settings.LUDUS_TRUSTED_PROXIES``), not by DRF's ``get_ident``, which believes any client.
"""

from __future__ import annotations

from typing import Any

from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from arena.api.voters import anon_id_get, client_ip


class _DynamicRate(SimpleRateThrottle):
    def __init__(self) -> None:  # read the rate per request, not at import
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)

    def get_rate(self) -> str | None:
        rate = api_settings.DEFAULT_THROTTLE_RATES.get(self.scope or "")
        return None if rate is None else str(rate)

    def get_ident(self, request: Any) -> str:
        return client_ip(request)


class VoterThrottle(_DynamicRate):
    """Per voter: the user, else the anonymous cookie, else (no identity yet) the IP."""

    def get_cache_key(self, request: Any, view: Any) -> str:
        if request.user and request.user.is_authenticated:
            ident = f"u{request.user.pk}"
        else:
            ident = f"a{anon_id_get(request) or self.get_ident(request)}"
        return f"throttle_{self.scope}_{ident}"


class IPThrottle(_DynamicRate):
    def get_cache_key(self, request: Any, view: Any) -> str:
        return f"throttle_{self.scope}_{self.get_ident(request)}"


class VoteVoterThrottle(VoterThrottle):
    scope = "votes"


class VoteIPThrottle(IPThrottle):
    scope = "votes_ip"


class BattleVoterThrottle(VoterThrottle):
    scope = "battles"


class BattleIPThrottle(IPThrottle):
    scope = "battles_ip"


class AnonThrottle(_DynamicRate):
    """DRF's anonymous-user throttle (scope ``anon``, by IP), with the rate read per request."""

    scope = "anon"

    def get_cache_key(self, request: Any, view: Any) -> str | None:
        if request.user and request.user.is_authenticated:
            return None
        return f"throttle_anon_{self.get_ident(request)}"


class UserThrottle(_DynamicRate):
    """Authenticated users by id (scope ``user``); anonymous ones are AnonThrottle's."""

    scope = "user"

    def get_cache_key(self, request: Any, view: Any) -> str | None:
        if request.user and request.user.is_authenticated:
            return f"throttle_user_{request.user.pk}"
        return None  # anonymous requests are throttled by AnonThrottle
