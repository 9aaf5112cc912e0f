"""Sampling to a target, read off a leaderboard: which models the open arena still samples.

Added to a board once per snapshot (:func:`leaderboard_sampling_add`, called by
:func:`arena.services.leaderboard.snapshot_to_dict`, so page and API show the same flags) and
read by the arena's matchmaking (:mod:`arena.services.arena_mode`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from django.conf import settings

from ranking.matchmaking import SamplingStatus, sampling_status


def board_arrays(
    ids: list[int], board: dict[str, Any]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Rating, lower and upper bounds and battles of ``ids`` on ``board`` (NaN/0 when absent)."""
    index = {cid: i for i, cid in enumerate(ids)}
    m = len(ids)
    rating = np.full(m, np.nan)
    lower = np.full(m, np.nan)
    upper = np.full(m, np.nan)
    n = np.zeros(m)
    for row in board.get("ratings", []):
        i = index.get(row.get("competitor_id"))
        if i is None:
            continue
        rating[i] = row["rating"]
        lower[i] = row["lower"] if row.get("lower") is not None else np.nan
        upper[i] = row["upper"] if row.get("upper") is not None else np.nan
        n[i] = row.get("battles") or 0
    return rating, lower, upper, n


#: The board the open arena samples from, and on which it marks the models still sampled.
ARENA_BOARD = ("bt", "combined", "all")


def arena_sampling_status(*, competitor_ids: list[int], board: dict[str, Any]) -> SamplingStatus:
    """Sampling to a target on ``board`` (the arena's Bradley-Terry board, as a dict).

    A model is still sampled while its interval is wider than ``LUDUS_ARENA_TARGET_WIDTH``
    (or has an open side, or the model is not on the board yet); a pair's order is settled
    when the interval of the difference excludes 0 at ``LUDUS_ARENA_SETTLED_CONFIDENCE``
    (see ``ranking.matchmaking.sampling_status``, which also keeps the bridges between groups).
    """
    rating, lower, upper, _ = board_arrays(competitor_ids, board)
    return sampling_status(
        rating,
        lower=lower,
        upper=upper,
        target_width=settings.LUDUS_ARENA_TARGET_WIDTH,
        confidence=settings.LUDUS_ARENA_SETTLED_CONFIDENCE,
        interval_confidence=float((board.get("params") or {}).get("confidence", 0.95)),
    )


def arena_sampling(board: dict[str, Any]) -> dict[str, Any] | None:
    """What the board says about sampling to a target (``None`` on boards the arena does not
    sample from): the rule, and the competitor ids of the models still being sampled
    (withdrawn models never are)."""
    if (board.get("method"), board.get("source"), board.get("category")) != ARENA_BOARD:
        return None
    rows = [
        r
        for r in board.get("ratings") or []
        if r.get("competitor_id") is not None and not r.get("withdrawn")
    ]
    ids = [int(r["competitor_id"]) for r in rows]
    sampled = ids
    if len(ids) >= 2:
        status = arena_sampling_status(competitor_ids=ids, board=board)
        sampled = [cid for cid, on in zip(ids, status.sampling) if on]
    return {
        "target_width": settings.LUDUS_ARENA_TARGET_WIDTH,
        "settled_confidence": settings.LUDUS_ARENA_SETTLED_CONFIDENCE,
        "sampling": sampled,
    }


def leaderboard_sampling_add(data: dict[str, Any]) -> dict[str, Any]:
    """Add sampling to a target to a snapshot dict: ``data["sampling"]`` (the rule and the ids
    still sampled, ``None`` on boards the arena does not sample from) and each row's
    ``sampling`` flag (``None`` there too)."""
    sampling = arena_sampling(data)
    data["sampling"] = sampling
    sampled = set(sampling["sampling"]) if sampling is not None else None
    # new row dicts: the rows may be a snapshot's own ``ratings``, which stay as computed
    data["ratings"] = [
        {**row, "sampling": None if sampled is None else row.get("competitor_id") in sampled}
        for row in data.get("ratings") or []
    ]
    return data
