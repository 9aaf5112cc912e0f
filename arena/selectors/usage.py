"""Latency, tokens and cost per answer of one model: the figures the model page and API show.

Only answers in judged matches (``done``) count: a match still running or awaiting votes has a
hidden prompt (whose length its token count would betray) and, in the open arena, anonymous
sides (a count that moves while a vote is open would betray which model answered).
"""

from __future__ import annotations

from typing import Any

from arena.models import Competitor, Generation, Match
from ranking.usage import METHOD_MEAN, METHOD_QUANTILE, Estimate, answer_usage

SCOPE = "answers in judged matches"


def _estimate(est: Estimate) -> dict[str, float | None]:
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
        "latency_p50_ms": _estimate(usage.latency_p50),
        "latency_p95_ms": _estimate(usage.latency_p95),
        "tokens_per_answer": _estimate(usage.tokens_mean),
        "cost_per_answer": _estimate(usage.cost_mean),
        "methods": {"latency": METHOD_QUANTILE, "tokens": METHOD_MEAN, "cost": METHOD_MEAN},
    }
