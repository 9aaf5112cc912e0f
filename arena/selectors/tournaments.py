"""Reads of tournaments: standings, bracket, predicted outcomes and matches.

Prompts, answers and judge outputs of a match are shown only by the rule of
:mod:`arena.selectors.prompts` (once judged, or from a public set), so a running or cancelled
benchmark never leaks its prompts.
"""

from __future__ import annotations

from typing import Any

from django.core.cache import cache
from django.db.models import Prefetch

from arena.models import Bye, Generation, Judgment, Match, Round, Tournament
from arena.selectors import content_key
from arena.selectors.prompts import matches_with_prompt_shown
from arena.services.tournaments import (
    _entries,
    _expected_scores,
    bracket_advancer,
    tournament_compute_standings,
    tournament_progress,
    tournament_ratings,
)


def tournament_standings(*, tournament: Tournament) -> dict[str, Any]:
    """Final standings once finished (stored), live standings while running."""
    if tournament.status == Tournament.Status.COMPLETED and tournament.results.get("standings"):
        return {"final": True, "standings": tournament.results["standings"],
                "tiebreaks": tournament.results.get("tiebreaks", [])}
    live = tournament_compute_standings(tournament)
    return {"final": False, **live}


def _side(match: Match, side: str, seeds: dict[int, int]) -> dict[str, Any]:
    comp = match.competitor_a if side == "a" else match.competitor_b
    return {"competitor_id": comp.pk, "name": comp.name, "seed": seeds.get(comp.pk)}


def tournament_bracket(*, tournament: Tournament) -> dict[str, Any]:
    """Round-by-round pairings with results (the bracket of a knockout; pairings otherwise)."""
    seeds = {e.competitor_id: e.seed for e in _entries(tournament)}
    rounds = (
        Round.objects.filter(tournament=tournament).order_by("number")
        .prefetch_related(Prefetch("matches", queryset=Match.objects.select_related("competitor_a", "competitor_b")
                                   .order_by("board", "id")),
                          Prefetch("byes", queryset=Bye.objects.select_related("competitor")))
    )
    out_rounds = []
    knockout = tournament.format == Tournament.Format.SINGLE_ELIMINATION
    for rnd in rounds:
        matches = []
        for m in rnd.matches.all():
            winner = {"model_a": "a", "model_b": "b"}.get(m.outcome or "")
            advanced_on_seed = False
            if knockout:  # somebody advances from every finished knockout match, ties included
                advancer = bracket_advancer(m, seeds)
                if advancer is not None:
                    advanced_on_seed = winner is None
                    winner = "a" if advancer == m.competitor_a_id else "b"
            matches.append({
                "id": m.pk, "board": m.board, "a": _side(m, "a", seeds), "b": _side(m, "b", seeds),
                "status": m.status, "outcome": m.outcome, "winner": winner, "advanced_on_seed": advanced_on_seed,
                "forfeit_by": m.forfeit_by_id,
            })
        out_rounds.append({
            "number": rnd.number, "status": rnd.status, "matches": matches,
            "byes": [{"competitor_id": b.competitor_id, "name": b.competitor.name, "points": b.points}
                     for b in rnd.byes.all()],
        })
    return {
        "format": tournament.format,
        "rounds_total": tournament_progress(tournament=tournament)["rounds_total"],
        "rounds": out_rounds,
        "champion": tournament.results.get("champion") if tournament.results else None,
    }


def tournament_simulation(*, tournament: Tournament) -> dict[str, Any]:
    """Predicted ``E[S]`` and win probabilities (stored when finished, from results so far otherwise).

    A running tournament's prediction (tens of thousands of simulated tournaments) is cached
    under its exact inputs, so polling clients do not rerun it.
    """
    if tournament.status == Tournament.Status.COMPLETED and tournament.results.get("expected_score"):
        return {"final": True, "ratings": tournament.results.get("ratings", []),
                "expected_score": tournament.results["expected_score"]}
    names = [e.competitor.name for e in _entries(tournament)]
    if len(names) < 2:
        return {"final": False, "ratings": [], "expected_score": []}
    ratings = tournament_ratings(tournament)
    key = content_key("api:sim", tournament.pk, tournament.format, tournament.config, tournament.seed, names,
                      [ratings[n] for n in names])
    rows = cache.get(key)
    if rows is None:
        rows = sorted(_expected_scores(tournament, names, ratings), key=lambda r: -r["expected_score"])
        cache.set(key, rows, timeout=3600)
    return {"final": False, "ratings": [{"name": n, "rating": ratings[n]} for n in names], "expected_score": rows}


def tournament_matches(*, tournament: Tournament, round_number: int | None = None,
                       include_details: bool = False) -> list[dict[str, Any]]:
    """The matches of a tournament (or one round); prompt, answers and judgments only once judged."""
    qs = (matches_with_prompt_shown(Match.objects.filter(tournament=tournament))
          .select_related("competitor_a", "competitor_b", "round", "prompt")
          .order_by("round__number", "board", "id"))
    if round_number is not None:
        qs = qs.filter(round__number=round_number)
    if include_details:
        qs = qs.prefetch_related(Prefetch("generations", queryset=Generation.objects.order_by("side")),
                                 Prefetch("judgments", queryset=Judgment.objects.order_by("judge", "sample", "order",
                                                                                          "stage")))
    seeds = {e.competitor_id: e.seed for e in _entries(tournament)}
    out = []
    for m in qs:
        shown = m.prompt_shown and m.status in Match.FINISHED
        row: dict[str, Any] = {
            "id": m.pk, "round": m.round.number if m.round else None, "board": m.board,
            "a": _side(m, "a", seeds), "b": _side(m, "b", seeds), "status": m.status, "outcome": m.outcome,
            "attempts": m.attempts, "forfeit_by": m.forfeit_by_id,
            "finished_at": m.finished_at.isoformat() if m.finished_at else None,
            "prompt": m.prompt.text if shown and m.prompt else None,
        }
        if include_details and shown:
            row["generations"] = [{"side": g.side, "text": g.text, "latency_ms": g.latency_ms,
                                   "prompt_tokens": g.prompt_tokens, "completion_tokens": g.completion_tokens,
                                   "cost": str(g.cost)} for g in m.generations.all()]
            row["judgments"] = [{"judge": j.judge, "order": j.order, "sample": j.sample, "stage": j.stage,
                                 "verdict": j.verdict, "outcome": j.outcome, "confidence": j.confidence,
                                 "rationale": j.rationale, "raw_output": j.raw_output, "parse_error": j.parse_error}
                                for j in m.judgments.all()]
        out.append(row)
    return out
