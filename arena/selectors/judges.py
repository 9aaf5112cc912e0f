"""Reads of judge reliability: one path for the judges page and ``GET /api/v1/judges/``."""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from dataclasses import asdict
from decimal import Decimal
from typing import Any

from django.core.cache import cache
from django.db.models import Max

from arena.models import JudgeRun, Judgment, Match, Tournament, Vote
from arena.selectors.usage import estimate_dict
from ranking.judge_reliability import (
    BOOTSTRAP_ROUNDS,
    BOOTSTRAP_SEED,
    CONFIDENCE,
    HUMAN_RULE,
    SELF_NOT_SHOWN,
    SELF_PREFERENCE_RULE,
    JudgmentRow,
    judge_reliability,
    self_preference,
)
from ranking.usage import answer_usage

#: The reliability shares of a judge row.
SHARES = ("position_bias", "swap_inconsistency", "decisiveness", "human_agreement")

log = logging.getLogger(__name__)

METHODOLOGY: dict[str, str] = {
    "scope": "Parsed verdicts of the primary stage (the first attempt that parsed, per judge, "
    "match, order and sample); review-stage, debate (round1.., vote) and drift-gate "
    "(calibration) verdicts are not counted.",
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
    "self_preference": SELF_PREFERENCE_RULE
    + " The judge's provider is the 'provider' of its entry in the judge pipeline that produced "
    "the verdicts (the tournament's, or the re-judge run's); a judge name given different "
    "providers in different pipelines is not shown.",
    "rejudged": "Verdicts from re-judge runs count too; per judge, match, order and sample only "
    "the earliest parsed verdict counts, so a judge re-run on the same matches is not counted "
    "twice.",
    "usage": "Every judge call counts (all stages, parse errors and re-judge runs included): "
    "calls, prompt and completion tokens, p50/p95 latency with "
    f"{CONFIDENCE:.0%} distribution-free order-statistic intervals, total cost and mean cost "
    "per call with a Student's t interval. Cost is at the prices in the judge spec "
    "(price_input_per_million, price_output_per_million; 0 when not set, as for the simulated "
    "judge); tokens of the simulated judge are estimated.",
}


def judge_list() -> dict[str, Any]:
    """Reliability of every judge identity found in stored judgments, with the methodology.

    Returns
    -------
    dict
        ``{"judges": [{"judge", "judgments", "matches", "position_bias",
        "swap_inconsistency", "decisiveness", "human_agreement", "human_matches_left_out",
        "self_preference", "usage"}],
        "methodology": {...}}``; each share is ``{"value", "lower", "upper", "successes",
        "n", "method"}`` or ``None`` without items.
    """
    # Judgments and votes are append-only: their largest ids name the data exactly, so the
    # result (bootstraps included) is computed once per change, not once per request.
    key = "judges:v3:{}:{}".format(
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


def _usage(values: list[tuple[int, int, int, Any]]) -> dict[str, Any]:
    """One judge's calls: ``values`` are (latency ms, prompt tokens, completion tokens, cost)."""
    summary = answer_usage(
        latency_ms=[v[0] for v in values],
        tokens=[v[1] + v[2] for v in values],
        cost=[float(v[3]) for v in values],
    )
    return {
        "calls": summary.n,
        "prompt_tokens": sum(v[1] for v in values),
        "completion_tokens": sum(v[2] for v in values),
        "latency_p50_ms": estimate_dict(summary.latency_p50),
        "latency_p95_ms": estimate_dict(summary.latency_p95),
        "cost_total": float(sum((Decimal(v[3]) for v in values), Decimal(0))),
        "cost_per_call": estimate_dict(summary.cost_mean),
    }


def _judge_providers(tournaments: set[int], runs: set[int]) -> dict[str, set[str]]:
    """The providers each judge name is given in the pipelines that produced verdicts."""
    pipelines = list(
        Tournament.objects.filter(id__in=tournaments).values_list("judge_pipeline", flat=True)
    )
    pipelines += list(JudgeRun.objects.filter(id__in=runs).values_list("pipeline", flat=True))
    out: dict[str, set[str]] = defaultdict(set)
    for pipeline in pipelines:
        if not isinstance(pipeline, dict):
            continue
        entries = list(pipeline.get("judges") or [])
        if pipeline.get("reviewer"):
            entries.append(pipeline["reviewer"])
        for entry in entries:
            if isinstance(entry, dict) and isinstance(entry.get("name"), str):
                provider = entry.get("provider")
                out[entry["name"]].add(provider.strip() if isinstance(provider, str) else "")
    return out


def _self_preference(
    rows: list[JudgmentRow], runs: set[int], human: dict[int, list[str]]
) -> dict[str, dict[str, Any]]:
    match_rows = Match.objects.filter(id__in={r.match for r in rows}).values_list(
        "id", "tournament_id", "competitor_a__provider", "competitor_b__provider"
    )
    sides = {m: (a, b) for m, _, a, b in match_rows}
    named = _judge_providers({t for _, t, _, _ in match_rows if t is not None}, runs)
    providers = {name: next(iter(p)) for name, p in named.items() if len(p) == 1}
    out = {
        r.judge: asdict(r)
        for r in self_preference(
            rows, judge_providers=providers, match_providers=sides, human_votes=human
        )
    }
    for name, found in named.items():
        if len(found) > 1 and name in out:
            out[name].update(
                status=SELF_NOT_SHOWN,
                reason="The judge name is given different providers in different pipelines ("
                + ", ".join(sorted(p or "none" for p in found))
                + ").",
            )
    return out


_PRIMARY = re.compile(r"^primary(/r[0-9]+)?$")


def _judge_list_compute() -> dict[str, Any]:
    rows: list[JudgmentRow] = []
    seen: set[tuple[str, int, str, int]] = set()
    calls: dict[str, list[tuple[int, int, int, Any]]] = defaultdict(list)
    runs: set[int] = set()
    for m, run, j, o, s, stage, v, out, *usage in Judgment.objects.order_by("id").values_list(
        "match_id",
        "run_id",
        "judge",
        "order",
        "sample",
        "stage",
        "verdict",
        "outcome",
        "latency_ms",
        "prompt_tokens",
        "completion_tokens",
        "cost",
    ):
        calls[j].append(tuple(usage))  # type: ignore[arg-type]
        if not v or not _PRIMARY.match(stage) or (j, m, o, s) in seen:
            continue  # the same judge again in a re-judge run counts once
        seen.add((j, m, o, s))
        if run is not None:
            runs.add(run)
        rows.append(
            JudgmentRow(match=m, judge=j, order=o, sample=s, verdict=v, outcome=out or "tie")
        )
    matches = {r.match for r in rows}
    human: dict[int, list[str]] = defaultdict(list)
    if matches:
        for m, outcome in Vote.objects.filter(match_id__in=matches).values_list(
            "match_id", "outcome"
        ):
            human[m].append(outcome)
    judges = {r.judge: asdict(r) for r in judge_reliability(rows, human_votes=human)}
    selfpref = _self_preference(rows, runs, human) if rows else {}
    for name in calls:  # a judge with calls but no primary verdict (a reviewer, say)
        judges.setdefault(
            name,
            {
                "judge": name,
                "judgments": 0,
                "matches": 0,
                **{key: None for key in SHARES},
                "human_matches_left_out": 0,
            },
        )
    for name, row in judges.items():
        row["self_preference"] = selfpref.get(name) or {
            "judge": name,
            "provider": "",
            "status": SELF_NOT_SHOWN,
            "reason": "The judge gave no primary verdict.",
            "matches": 0,
            "own_side_wins": None,
            "baseline": None,
            "difference": None,
        }
        row["usage"] = _usage(calls[name])
    return {
        "judges": [judges[name] for name in sorted(judges)],
        "methodology": METHODOLOGY,
    }


__all__ = ["METHODOLOGY", "judge_list"]
