"""Latency, tokens and cost per answer of one model: the figures the model page and API show.

Only answers in judged matches (``done``) count: a match still running or awaiting votes has a
hidden prompt (whose length its token count would betray) and, in the open arena, anonymous
sides (a count that moves while a vote is open would betray which model answered).

Each answer's cost was fixed when it was stored, from an admin price, the endpoint's declared
price or no price (:mod:`arena.services.prices`). The figures say how many answers were
costed from each (``cost_basis``) and give the model's current admin price; the cost figure is
over the answers with a price (``priced_answers``): an answer without one has an unknown cost,
not a zero one.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db.models import Avg, Count, Q, StdDev

from arena.models import Competitor, CostBasis, Generation, Match
from arena.selectors.leaderboard import leaderboard_get
from arena.selectors.prices import price_current, price_to_dict, prices_current
from ranking.usage import (
    CONFIDENCE,
    METHOD_MEAN,
    METHOD_QUANTILE,
    Estimate,
    answer_usage,
    t_interval,
)

SCOPE = "answers in judged matches"
METHOD_COST = f"{METHOD_MEAN}, over the answers with a price"
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


def _bases(counts: dict[str, int]) -> dict[str, int]:
    return {basis: int(counts.get(basis, 0)) for basis in CostBasis.values}


def competitor_usage(*, competitor: Competitor) -> dict[str, Any]:
    """Answers counted, p50/p95 latency (ms), mean tokens and mean cost per answer.

    Returns
    -------
    dict
        ``{"competitor_id", "name", "answers", "priced_answers", "confidence", "scope",
        "currency", "cost_basis": {"admin", "declared", "none"}, "price", "latency_p50_ms",
        "latency_p95_ms", "tokens_per_answer", "cost_per_answer", "methods"}``; each figure is
        ``{"value", "lower", "upper", "coverage"}`` (a bound is null when the data are too
        few); ``price`` is the current admin price or null.
    """
    rows = list(
        Generation.objects.filter(competitor=competitor, match__status=Match.Status.DONE)
        .order_by("pk")
        .values_list("latency_ms", "prompt_tokens", "completion_tokens", "cost", "cost_basis")
    )
    usage = answer_usage(
        latency_ms=[r[0] for r in rows],
        tokens=[r[1] + r[2] for r in rows],
        cost=[float(r[3]) for r in rows if r[4] != CostBasis.NONE],
    )
    counts: dict[str, int] = {}
    for r in rows:
        counts[r[4]] = counts.get(r[4], 0) + 1
    return {
        "competitor_id": competitor.pk,
        "name": competitor.name,
        "answers": usage.n,
        "priced_answers": usage.cost_n,
        "confidence": usage.confidence,
        "scope": SCOPE,
        "currency": settings.LUDUS_COST_CURRENCY,
        "cost_basis": _bases(counts),
        "price": price_to_dict(price_current(competitor_id=competitor.pk)),
        "latency_p50_ms": estimate_dict(usage.latency_p50),
        "latency_p95_ms": estimate_dict(usage.latency_p95),
        "tokens_per_answer": estimate_dict(usage.tokens_mean),
        "cost_per_answer": estimate_dict(usage.cost_mean),
        "methods": {"latency": METHOD_QUANTILE, "tokens": METHOD_MEAN, "cost": METHOD_COST},
    }


def competitor_rating_cost() -> dict[str, Any]:
    """Each public, listed model's Bradley-Terry rating beside its mean cost per battle.

    The cost of a battle to a model is its own answer's cost (one answer per battle), over
    answers in judged matches that have a price; one aggregate query, and one for the current
    admin prices. Rated models come first, best first. The models page's table and chart and
    ``GET /api/v1/models/rating-cost/`` all show this.

    Returns
    -------
    dict
        ``{"snapshot_version", "confidence", "scope", "currency", "methods": {"rating",
        "cost"}, "rows": [{"competitor_id", "name", "rating", "lower", "upper", "rank",
        "answers", "priced_answers", "cost_basis": {"admin", "declared", "none"}, "price",
        "cost_per_battle": {"value", "lower", "upper", "coverage"}}]}``; ``price`` is the
        current admin price or null.
    """
    listed = (
        Competitor.objects.filter(visibility=Competitor.Visibility.PUBLIC)
        .exclude(status=Competitor.Status.PENDING)
        .order_by("name")
    )
    priced = ~Q(cost_basis=CostBasis.NONE)
    costs: dict[int, dict[str, Any]] = {
        row["competitor_id"]: dict(row)
        for row in Generation.objects.filter(match__status=Match.Status.DONE, competitor__in=listed)
        .values("competitor_id")
        .annotate(
            answers=Count("id"),
            n=Count("id", filter=priced),
            mean=Avg("cost", filter=priced),
            sd=StdDev("cost", sample=True, filter=priced),
            **{
                f"basis_{basis}": Count("id", filter=Q(cost_basis=basis))
                for basis in CostBasis.values
            },
        )
        .order_by()
    }
    prices = {
        cid: price_to_dict(p) for cid, p in prices_current(competitors=listed.values("pk")).items()
    }
    board = leaderboard_get(method="bt") or {}
    ratings = {r.get("competitor_id"): r for r in board.get("ratings", [])}
    rows: list[dict[str, Any]] = []
    for competitor in listed.values("id", "name"):
        rating = ratings.get(competitor["id"]) or {}
        cost = costs.get(competitor["id"]) or {"answers": 0, "n": 0, "mean": None, "sd": None}
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
                "answers": cost["answers"],
                "priced_answers": cost["n"],
                "cost_basis": _bases(
                    {basis: cost.get(f"basis_{basis}", 0) for basis in CostBasis.values}
                ),
                "price": prices.get(competitor["id"]),
                "cost_per_battle": estimate_dict(est),
            }
        )
    rows.sort(key=lambda r: (r["rating"] is None, -(r["rating"] or 0.0), r["name"]))
    return {
        "snapshot_version": board.get("version"),
        "confidence": CONFIDENCE,
        "scope": SCOPE,
        "currency": settings.LUDUS_COST_CURRENCY,
        "methods": {"rating": RATING_METHOD, "cost": METHOD_COST},
        "rows": rows,
    }
