"""Reads of published leaderboards: served from the cache, never computed in a request."""

from __future__ import annotations

from typing import Any

from django.core.cache import cache

from arena.models import LeaderboardSnapshot
from arena.services.leaderboard import ALL_CATEGORIES, cache_key, snapshot_to_dict


def leaderboard_get(
    *, method: str = "bt", source: str = "combined", category: str = ALL_CATEGORIES, version: int | None = None
) -> dict[str, Any] | None:
    """The latest (or a given version of a) snapshot as a dict, or ``None`` if none exists."""
    if version is None:
        cached = cache.get(cache_key(method, source, category))
        if cached is not None:
            return cached
    qs = LeaderboardSnapshot.objects.filter(method=method, source=source, category=category)
    snapshot = qs.filter(version=version).first() if version is not None else qs.order_by("-version").first()
    if snapshot is None:
        return None
    data = snapshot_to_dict(snapshot)
    if version is None:
        cache.set(cache_key(method, source, category), data, timeout=None)
    return data
