"""Reads of published leaderboards: served from the cache, never computed in a request."""

from __future__ import annotations

import logging
import time
from typing import Any

from django.conf import settings
from django.core.cache import cache

from arena.models import LeaderboardSnapshot
from arena.selectors.sampling import leaderboard_sampling_add
from arena.services.leaderboard import (
    ALL_CATEGORIES,
    ETAG_MEMO,
    cache_key,
    leaderboard_etags_forget,
    snapshot_cache,
    snapshot_to_dict,
)

log = logging.getLogger(__name__)


def _cache_get(key: str) -> object | None:
    try:
        return cache.get(key)
    except Exception:  # the cache is an accelerator: with Redis down, read the database
        log.warning("cache unavailable, reading the leaderboard from the database", exc_info=True)
        return None


#: ETags read from the cache, kept in this process (see ``arena.services.leaderboard``, which
#: forgets them on a publish); a snapshot published in another process shows up here within
#: ``LUDUS_LEADERBOARD_ETAG_MEMO_SECONDS``, well inside the ``max-age`` clients get.
_ETAGS = ETAG_MEMO
__all__ = ["leaderboard_etags_forget", "leaderboard_get", "leaderboard_latest_etag"]


def leaderboard_latest_etag(*, method: str, source: str, category: str) -> str | None:
    """The ETag of the latest snapshot of a scope, from the cache (``None``: not cached)."""
    key = f"{cache_key(method, source, category)}:etag"
    now = time.monotonic()
    remembered = _ETAGS.get(key)
    if remembered is not None and remembered[1] > now:
        return remembered[0]
    etag = _cache_get(key)
    if not isinstance(etag, str):
        return None
    ttl = float(settings.LUDUS_LEADERBOARD_ETAG_MEMO_SECONDS)
    if ttl > 0:
        if len(_ETAGS) > 1024:
            _ETAGS.clear()
        _ETAGS[key] = (etag, now + ttl)
    return etag


def leaderboard_get(
    *,
    method: str = "bt",
    source: str = "combined",
    category: str = ALL_CATEGORIES,
    version: int | None = None,
) -> dict[str, Any] | None:
    """The latest (or a given version of a) snapshot as a dict, or ``None`` if none exists.

    The arena's board also says which models are still being sampled (``sampling``, added
    once per snapshot by :func:`arena.services.leaderboard.snapshot_to_dict`).
    """
    if version is None:
        cached = _cache_get(cache_key(method, source, category))
        if isinstance(cached, dict):
            if "sampling" not in cached:  # cached by a version that did not add it
                leaderboard_sampling_add(cached)
            return cached
    qs = LeaderboardSnapshot.objects.filter(method=method, source=source, category=category)
    snapshot = (
        qs.filter(version=version).first()
        if version is not None
        else qs.order_by("-version").first()
    )
    if snapshot is None:
        return None
    if version is None:
        try:
            snapshot_cache(snapshot)
        except Exception:
            log.warning("cache unavailable, leaderboard not cached", exc_info=True)
    return snapshot_to_dict(snapshot)
