"""Throttles: per voter and per client IP for the vote flow, per IP or user elsewhere.

DRF's ``SimpleRateThrottle`` (a sliding window kept in the default cache) with two changes:
the rate is read from ``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]`` per request, so tests can
override it with ``settings``, and a client is identified by
:func:`arena.api.voters.client_ip` (``X-Forwarded-For`` counts only from
``settings.LUDUS_TRUSTED_PROXIES``), not by DRF's ``get_ident``, which believes any client.
The vote flow's two windows (per voter, per IP) are checked together, with one cache read and
one cache write per request.
"""

from __future__ import annotations

from typing import Any

from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle, SimpleRateThrottle

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


class _Together(BaseThrottle):
    """The ``windows`` throttles with one cache read and one cache write per request.

    The same sliding windows as listing the classes in ``throttle_classes`` (each window is
    checked, and a window that allows the request records it even when another refuses), but
    the histories are read with ``get_many`` and written with ``set_many``: two cache round
    trips per request instead of two per window.
    """

    windows: tuple[type[_DynamicRate], ...] = ()

    def allow_request(self, request: Any, view: Any) -> bool:
        keyed: list[tuple[_DynamicRate, str, int, int]] = []
        for cls in self.windows:
            window = cls()
            if window.num_requests is None or window.duration is None:
                continue  # no rate for this scope: not throttled, as in DRF
            key = window.get_cache_key(request, view)
            if key is not None:
                window.key = key
                keyed.append((window, key, window.num_requests, window.duration))
        self.refused: list[_DynamicRate] = []
        if not keyed:
            return True
        cache = keyed[0][0].cache  # DRF's default cache, as SimpleRateThrottle uses
        histories = cache.get_many([key for _, key, _, _ in keyed])
        now = keyed[0][0].timer()
        writes: dict[int, dict[str, list[float]]] = {}  # by window duration: one set_many each
        for window, key, num_requests, duration in keyed:
            history = histories.get(key, [])
            while history and history[-1] <= now - duration:
                history.pop()
            window.now, window.history = now, history
            if len(history) >= num_requests:
                self.refused.append(window)
            else:
                history.insert(0, now)
                writes.setdefault(duration, {})[key] = history
        for duration, histories_out in writes.items():
            cache.set_many(histories_out, duration)
        return not self.refused

    def wait(self) -> float | None:
        waits = [w for w in (r.wait() for r in self.refused) if w is not None]
        return max(waits, default=None)


class VoteThrottle(_Together):
    """``votes/``: per voter and per IP."""

    windows = (VoteVoterThrottle, VoteIPThrottle)


class BattleThrottle(_Together):
    """``battles/next/``: per voter and per IP."""

    windows = (BattleVoterThrottle, BattleIPThrottle)


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
