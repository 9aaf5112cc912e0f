"""Reads of judge reliability: one path for the judges page and ``GET /api/v1/judges/``."""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import asdict
from typing import Any

from django.core.cache import cache
from django.db.models import Max

from arena.models import Judgment, Vote
from ranking.judge_reliability import (
    BOOTSTRAP_ROUNDS,
    BOOTSTRAP_SEED,
    CONFIDENCE,
    HUMAN_RULE,
    JudgmentRow,
    judge_reliability,
)

log = logging.getLogger(__name__)

METHODOLOGY: dict[str, str] = {
    "scope": "Parsed verdicts of the primary stage (the first attempt that parsed, per judge, "
    "match, order and sample); review-stage verdicts are not counted.",
    "position_bias": "Share of decisive verdicts (not A=B) that pick the answer shown first; "
    "0.5 means no bias when both orders are judged.",
    "swap_inconsistency": "Share of (match, sample) pairs judged in both orders whose two "
    "outcomes, mapped back to the match's sides, differ (a tie is its own outcome).",
    "decisiveness": "Share of verdicts that are not ties.",
    "human_agreement": HUMAN_RULE,
    "intervals": f"{CONFIDENCE:.0%} intervals. Shares with one item per match use the Wilson "
    "score interval; shares over several verdicts per match (both orders, samples) use a "
    f"percentile cluster bootstrap over matches ({BOOTSTRAP_ROUNDS} resamples, seed "
    f"{BOOTSTRAP_SEED}); a share of 0 or 1 over several verdicts per match, where that bootstrap "
    "collapses to a point, uses the Wilson interval with one item per match (wilson-matches). "
    "Each share names its method. Coverage was checked in simulation "
    "(tests/ranking/test_judge_reliability.py).",
    "self_preference": "Not shown: judges are stored by name only, without a provider to "
    "compare with the competitors' providers.",
}


def judge_list() -> dict[str, Any]:
    """Reliability of every judge identity found in stored judgments, with the methodology.

    Returns
    -------
    dict
        ``{"judges": [{"judge", "judgments", "matches", "position_bias",
        "swap_inconsistency", "decisiveness", "human_agreement", "human_matches_left_out"}],
        "methodology": {...}}``; each share is ``{"value", "lower", "upper", "successes",
        "n", "method"}`` or ``None`` without items.
    """
    # Judgments and votes are append-only: their largest ids name the data exactly, so the
    # result (bootstraps included) is computed once per change, not once per request.
    key = "judges:v1:{}:{}".format(
        Judgment.objects.aggregate(m=Max("id"))["m"], Vote.objects.aggregate(m=Max("id"))["m"]
    )
    try:
        cached = cache.get(key)
    except Exception:
        log.warning("cache unavailable, judge reliability not cached", exc_info=True)
        cached = None
    if cached is not None:
        return dict(cached)
    data = _judge_list_compute()
    try:
        cache.set(key, data, timeout=24 * 3600)
    except Exception:
        log.warning("cache unavailable, judge reliability not cached", exc_info=True)
    return data


def _judge_list_compute() -> dict[str, Any]:
    rows = [
        JudgmentRow(match=m, judge=j, order=o, sample=s, verdict=v, outcome=out or "tie")
        for m, j, o, s, v, out in Judgment.objects.filter(stage__regex=r"^primary(/r[0-9]+)?$")
        .exclude(verdict="")
        .values_list("match_id", "judge", "order", "sample", "verdict", "outcome")
        .order_by("id")
    ]
    matches = {r.match for r in rows}
    human: dict[int, list[str]] = defaultdict(list)
    if matches:
        for m, outcome in Vote.objects.filter(match_id__in=matches).values_list(
            "match_id", "outcome"
        ):
            human[m].append(outcome)
    return {
        "judges": [asdict(r) for r in judge_reliability(rows, human_votes=human)],
        "methodology": METHODOLOGY,
    }


__all__ = ["METHODOLOGY", "judge_list"]
