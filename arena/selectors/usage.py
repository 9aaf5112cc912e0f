"""Latency, tokens and cost per answer of one model: the figures the model page and API show.

Only answers in judged matches (``done``) count: a match still running or awaiting votes has a
hidden prompt (whose length its token count would betray) and, in the open arena, anonymous
sides (a count that moves while a vote is open would betray which model answered).
"""

from __future__ import annotations

from typing import Any

from django.db.models import Avg, Count, StdDev

from arena.models import Competitor, Generation, Match
from arena.selectors.leaderboard import leaderboard_get
from ranking.usage import (
    CONFIDENCE,
    METHOD_MEAN,
    METHOD_QUANTILE,
    Estimate,
    answer_usage,
    t_interval,
)

SCOPE = "answers in judged matches"
RATING_METHOD = (
    "Bradley-Terry rating from the current published snapshot (all sources, all categories), "
    "with its interval"
)


def estimate_dict(est: Estimate) -> dict[str, float | None]:
    return {
        "value": est.value,
        "lower": est.lower,
        "upper": est.upper,
        "coverage": est.coverage,
    }


def competitor_usage(*, competitor: Competitor) -> dict[str, Any]:
    """Answers counted, p50/p95 latency (ms), mean tokens and mean cost per answer.

    Returns
    -------
    dict
        ``{"competitor_id", "name", "answers", "confidence", "scope", "latency_p50_ms",
        "latency_p95_ms", "tokens_per_answer", "cost_per_answer", "methods"}``; each figure is
        ``{"value", "lower", "upper", "coverage"}`` (a bound is null when the data are too few).
    """
    rows = list(
        Generation.objects.filter(competitor=competitor, match__status=Match.Status.DONE)
        .order_by("pk")
        .values_list("latency_ms", "prompt_tokens", "completion_tokens", "cost")
    )
    usage = answer_usage(
        latency_ms=[r[0] for r in rows],
        tokens=[r[1] + r[2] for r in rows],
        cost=[float(r[3]) for r in rows],
    )
    return {
        "competitor_id": competitor.pk,
        "name": competitor.name,
        "answers": usage.n,
        "confidence": usage.confidence,
        "scope": SCOPE,
        "latency_p50_ms": estimate_dict(usage.latency_p50),
        "latency_p95_ms": estimate_dict(usage.latency_p95),
        "tokens_per_answer": estimate_dict(usage.tokens_mean),
        "cost_per_answer": estimate_dict(usage.cost_mean),
        "methods": {"latency": METHOD_QUANTILE, "tokens": METHOD_MEAN, "cost": METHOD_MEAN},
    }


def competitor_rating_cost() -> dict[str, Any]:
    """Each public, listed model's Bradley-Terry rating beside its mean cost per battle.

    The cost of a battle to a model is its own answer's cost (one answer per battle), over
    answers in judged matches; one aggregate query. Rated models come first, best first.

    Returns
    -------
    dict
        ``{"snapshot_version", "confidence", "scope", "methods": {"rating", "cost"},
        "rows": [{"competitor_id", "name", "rating", "lower", "upper", "rank", "answers",
        "cost_per_battle": {"value", "lower", "upper", "coverage"}}]}``.
    """
    listed = (
        Competitor.objects.filter(visibility=Competitor.Visibility.PUBLIC)
        .exclude(status=Competitor.Status.PENDING)
        .order_by("name")
    )
    costs: dict[int, dict[str, Any]] = {
        row["competitor_id"]: dict(row)
        for row in Generation.objects.filter(match__status=Match.Status.DONE, competitor__in=listed)
        .values("competitor_id")
        .annotate(n=Count("id"), mean=Avg("cost"), sd=StdDev("cost", sample=True))
        .order_by()
    }
    board = leaderboard_get(method="bt") or {}
    ratings = {r.get("competitor_id"): r for r in board.get("ratings", [])}
    rows: list[dict[str, Any]] = []
    for competitor in listed.values("id", "name"):
        rating = ratings.get(competitor["id"]) or {}
        cost = costs.get(competitor["id"]) or {"n": 0, "mean": None, "sd": None}
        est = t_interval(
            n=int(cost["n"]),
            mean=None if cost["mean"] is None else float(cost["mean"]),
            sd=None if cost["sd"] is None else float(cost["sd"]),
        )
        rows.append(
            {
                "competitor_id": competitor["id"],
                "name": competitor["name"],
                "rating": rating.get("rating"),
                "lower": rating.get("lower"),
                "upper": rating.get("upper"),
                "rank": rating.get("rank"),
                "answers": cost["n"],
                "cost_per_battle": estimate_dict(est),
            }
        )
    rows.sort(key=lambda r: (r["rating"] is None, -(r["rating"] or 0.0), r["name"]))
    return {
        "snapshot_version": board.get("version"),
        "confidence": CONFIDENCE,
        "scope": SCOPE,
        "methods": {"rating": RATING_METHOD, "cost": METHOD_MEAN},
        "rows": rows,
    }
