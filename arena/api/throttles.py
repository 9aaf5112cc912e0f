"""Scoped throttles for the vote flow: per voter and per client IP.

Rates come from ``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]`` and are read at request time,
so tests can override them with ``settings``.
"""

from __future__ import annotations

from typing import Any

from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from arena.api.voters import anon_id_get


class _DynamicRate(SimpleRateThrottle):
    def get_rate(self) -> str | None:
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def __init__(self) -> None:  # read the rate per request, not at import
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)


class VoterThrottle(_DynamicRate):
    """Per voter: the user, else the anonymous cookie, else (no identity yet) the IP."""

    scope_base = "votes"

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
    """DRF's user throttle (scope ``user``: by user id, else by IP)."""

    scope = "user"

    def get_cache_key(self, request: Any, view: Any) -> str:
        if request.user and request.user.is_authenticated:
            return f"throttle_user_{request.user.pk}"
        return f"throttle_user_{self.get_ident(request)}"
