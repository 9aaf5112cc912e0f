"""Reads of published leaderboards: served from the cache, never computed in a request."""

from __future__ import annotations

import logging
from typing import Any

from django.core.cache import cache

from arena.models import LeaderboardSnapshot
from arena.services.leaderboard import ALL_CATEGORIES, cache_key, snapshot_to_dict

log = logging.getLogger(__name__)


def _cache_get(key: str) -> object | None:
    try:
        return cache.get(key)
    except Exception:  # the cache is an accelerator: with Redis down, read the database
        log.warning("cache unavailable, reading the leaderboard from the database", exc_info=True)
        return None


def _cache_set(key: str, value: object) -> None:
    try:
        cache.set(key, value, timeout=None)
    except Exception:
        log.warning("cache unavailable, leaderboard not cached", exc_info=True)


def leaderboard_get(
    *, method: str = "bt", source: str = "combined", category: str = ALL_CATEGORIES, version: int | None = None
) -> dict[str, Any] | None:
    """The latest (or a given version of a) snapshot as a dict, or ``None`` if none exists."""
    if version is None:
        cached = _cache_get(cache_key(method, source, category))
        if cached is not None:
            return cached
    qs = LeaderboardSnapshot.objects.filter(method=method, source=source, category=category)
    snapshot = qs.filter(version=version).first() if version is not None else qs.order_by("-version").first()
    if snapshot is None:
        return None
    data = snapshot_to_dict(snapshot)
    if version is None:
        _cache_set(cache_key(method, source, category), data)
    return data
