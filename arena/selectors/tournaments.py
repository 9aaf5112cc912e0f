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
    bracket_advancer,
    tournament_compute_standings,
    tournament_predict,
    tournament_progress,
)


def tournament_standings(*, tournament: Tournament) -> dict[str, Any]:
    """Final standings once finished (stored), live standings while running."""
    if tournament.status == Tournament.Status.COMPLETED and tournament.results.get("standings"):
        return {
            "final": True,
            "standings": tournament.results["standings"],
            "tiebreaks": tournament.results.get("tiebreaks", []),
        }
    live = tournament_compute_standings(tournament)
    return {"final": False, **live}


def _side(match: Match, side: str, seeds: dict[int, int]) -> dict[str, Any]:
    comp = match.competitor_a if side == "a" else match.competitor_b
    return {"competitor_id": comp.pk, "name": comp.name, "seed": seeds.get(comp.pk)}


def tournament_bracket(*, tournament: Tournament) -> dict[str, Any]:
    """Round-by-round pairings with results (the bracket of a knockout; pairings otherwise)."""
    seeds = {e.competitor_id: e.seed for e in _entries(tournament)}
    rounds = (
        Round.objects.filter(tournament=tournament)
        .order_by("number")
        .prefetch_related(
            Prefetch(
                "matches",
                queryset=Match.objects.select_related("competitor_a", "competitor_b").order_by(
                    "board", "id"
                ),
            ),
            Prefetch("byes", queryset=Bye.objects.select_related("competitor")),
        )
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
            matches.append(
                {
                    "id": m.pk,
                    "board": m.board,
                    "a": _side(m, "a", seeds),
                    "b": _side(m, "b", seeds),
                    "status": m.status,
                    "outcome": m.outcome,
                    "winner": winner,
                    "advanced_on_seed": advanced_on_seed,
                    "forfeit_by": m.forfeit_by_id,
                }
            )
        out_rounds.append(
            {
                "number": rnd.number,
                "status": rnd.status,
                "matches": matches,
                "byes": [
                    {
                        "competitor_id": b.competitor_id,
                        "name": b.competitor.name,
                        "points": b.points,
                    }
                    for b in rnd.byes.all()
                ],
            }
        )
    return {
        "format": tournament.format,
        "rounds_total": tournament_progress(tournament=tournament)["rounds_total"],
        "rounds": out_rounds,
        "champion": tournament.results.get("champion") if tournament.results else None,
    }


def tournament_prediction(*, tournament: Tournament) -> dict[str, Any]:
    """Predicted ``E[S]``, first-place and survival probabilities: what the API and the page show.

    Stored with the results once the tournament is finished; otherwise computed by
    :func:`arena.services.tournaments.tournament_predict` from the results so far and
    cached under the tournament's state (its matches, eliminations and entrants), so
    polling clients do not rerun the simulation.
    """
    final = tournament.status == Tournament.Status.COMPLETED
    if final and tournament.results.get("expected_score"):
        return {
            "final": True,
            "ratings": tournament.results.get("ratings", []),
            "expected_score": tournament.results["expected_score"],
            "iterations": 0,
        }
    if final or tournament.status == Tournament.Status.CANCELLED:
        state: Any = (
            tournament.finished_at.isoformat() if tournament.finished_at else None
        )  # no longer changes
    else:
        state = [
            list(
                tournament.entries.values_list(
                    "competitor_id", "competitor__status", "eliminated_in_round", "withdrawn"
                ).order_by("seed")
            ),
            list(
                Match.objects.filter(tournament=tournament)
                .order_by("id")
                .values_list("id", "status", "outcome", "round__status")
            ),
        ]
    key = content_key(
        "tournament:prediction",
        tournament.pk,
        tournament.status,
        tournament.format,
        tournament.config,
        tournament.seed,
        state,
    )
    prediction = cache.get(key)
    if prediction is None:
        if len(_entries(tournament)) < 2:
            prediction = {"ratings": [], "expected_score": [], "iterations": 0}
        else:
            prediction = tournament_predict(tournament=tournament)
        cache.set(key, prediction, timeout=3600)
    return {"final": final, **prediction}


def tournament_matches(
    *, tournament: Tournament, round_number: int | None = None, include_details: bool = False
) -> list[dict[str, Any]]:
    """The matches of a tournament (or one round); prompt, answers and judgments only once judged."""
    qs = (
        matches_with_prompt_shown(Match.objects.filter(tournament=tournament))
        .select_related("competitor_a", "competitor_b", "round", "prompt")
        .order_by("round__number", "board", "id")
    )
    if round_number is not None:
        qs = qs.filter(round__number=round_number)
    if include_details:
        qs = qs.prefetch_related(
            Prefetch("generations", queryset=Generation.objects.order_by("side")),
            Prefetch(
                "judgments", queryset=Judgment.objects.order_by("judge", "sample", "order", "stage")
            ),
        )
    seeds = {e.competitor_id: e.seed for e in _entries(tournament)}
    out = []
    for m in qs:
        # prompt_shown is annotated by matches_with_prompt_shown
        shown = m.prompt_shown and m.status in Match.FINISHED  # type: ignore[attr-defined]
        row: dict[str, Any] = {
            "id": m.pk,
            "round": m.round.number if m.round else None,
            "board": m.board,
            "a": _side(m, "a", seeds),
            "b": _side(m, "b", seeds),
            "status": m.status,
            "outcome": m.outcome,
            "attempts": m.attempts,
            "forfeit_by": m.forfeit_by_id,
            "finished_at": m.finished_at.isoformat() if m.finished_at else None,
            "prompt": m.prompt.text if shown and m.prompt else None,
        }
        if include_details and shown:
            row["generations"] = [
                {
                    "side": g.side,
                    "text": g.text,
                    "latency_ms": g.latency_ms,
                    "prompt_tokens": g.prompt_tokens,
                    "completion_tokens": g.completion_tokens,
                    "cost": str(g.cost),
                }
                for g in m.generations.all()
            ]
            row["judgments"] = [
                {
                    "judge": j.judge,
                    "order": j.order,
                    "sample": j.sample,
                    "stage": j.stage,
                    "verdict": j.verdict,
                    "outcome": j.outcome,
                    "confidence": j.confidence,
                    "rationale": j.rationale,
                    "raw_output": j.raw_output,
                    "parse_error": j.parse_error,
                }
                for j in m.judgments.all()
            ]
        out.append(row)
    return out
