"""Reads of tournaments: standings, bracket, predicted outcomes and matches.

Prompts, answers and judge outputs of a match are shown only by the rule of
:mod:`arena.selectors.prompts` (once judged, or from a public set), so a running or cancelled
benchmark never leaks its prompts.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import numpy as np
from django.core.cache import cache
from django.db.models import Prefetch

from arena.formats import format_get
from arena.formats.base import field_entries, is_withdrawn
from arena.models import Battle, Bye, Generation, Judgment, Match, Round, Source, Tournament
from arena.selectors import content_key
from arena.selectors.prompts import matches_with_prompt_shown
from clients import sim_seed
from ranking import Battles, bradley_terry, win_matrix
from ranking.simulate import simulate_rest
from ranking.types import OUTCOMES

PREDICTION_ITERATIONS = 10_000


# --------------------------------------------------------------------------- compute


def tournament_compute_standings(*, tournament: Tournament) -> dict[str, Any]:
    """Standings (points, games, tie-breaks or bracket placement) from the results so far.

    The counts are the same for every format; the order, tie-breaks and placement are the
    format's (:meth:`arena.formats.TournamentFormat.standings`).
    """
    entries = field_entries(tournament)
    stats: dict[int, dict[str, Any]] = {
        e.competitor_id: {
            "competitor_id": e.competitor_id,
            "name": e.competitor.name,
            "seed": e.seed,
            "points": 0.0,
            "played": 0,
            "wins": 0,
            "losses": 0,
            "ties": 0,
            "forfeits": 0,
            "byes": 0,
            "eliminated_in_round": e.eliminated_in_round,
        }
        for e in entries
    }
    for m in Match.objects.filter(tournament=tournament, status__in=Match.FINISHED):
        a, b = stats[m.competitor_a_id], stats[m.competitor_b_id]
        if m.status == Match.Status.DONE:
            a["played"] += 1
            b["played"] += 1
        if m.status == Match.Status.FORFEIT:
            (a if m.forfeit_by_id == m.competitor_a_id else b)["forfeits"] += 1
        if m.outcome == "model_a":
            a["wins"] += 1
            b["losses"] += 1
            a["points"] += 1
        elif m.outcome == "model_b":
            b["wins"] += 1
            a["losses"] += 1
            b["points"] += 1
        elif m.outcome:
            a["ties"] += 1
            b["ties"] += 1
            a["points"] += 0.5
            b["points"] += 0.5
    rules = format_get(tournament.format)
    for bye in Bye.objects.filter(round__tournament=tournament):
        stats[bye.competitor_id]["byes"] += 1
        if rules.byes_score():
            stats[bye.competitor_id]["points"] += bye.points
    rows = rules.standings(tournament, list(stats.values()))
    for rank, row in enumerate(rows, start=1):
        row.setdefault("rank", rank)
    return {"standings": rows, "tiebreaks": list(rules.tiebreaks)}


def _tournament_battles(tournament: Tournament) -> tuple[list[str], Battles]:
    entries = field_entries(tournament)
    names = [e.competitor.name for e in entries]
    index = {e.competitor_id: i for i, e in enumerate(entries)}
    rows = list(
        Battle.objects.filter(match__tournament=tournament, source=Source.JUDGE).values_list(
            "model_a_id", "model_b_id", "outcome"
        )
    )
    code = {o: i for i, o in enumerate(OUTCOMES)}
    battles = Battles(
        models=tuple(names),
        a=np.array([index[r[0]] for r in rows], dtype=np.int32),
        b=np.array([index[r[1]] for r in rows], dtype=np.int32),
        outcome=np.array([code[r[2]] for r in rows], dtype=np.int8),
    )
    return names, battles


def tournament_ratings(*, tournament: Tournament) -> dict[str, float]:
    """Bradley-Terry ratings (Elo scale, mean 1000, light L2 so they exist for unbeaten players)."""
    names, battles = _tournament_battles(tournament)
    if len(battles) == 0:
        return {n: 1000.0 for n in names}
    result = bradley_terry(battles, l2=1.0, ci="none")
    mean = float(np.mean(result.rating))
    return {m: float(r) - mean + 1000.0 for m, r in zip(result.models, result.rating)}


def tournament_predict(*, tournament: Tournament) -> dict[str, Any]:
    """``E[S]``: each entrant's points so far plus its expected points from what remains.

    The rest of the tournament is simulated (``ranking.simulate.simulate_rest``) with the
    win probabilities of the Bradley-Terry ratings fitted to the tournament's own battles
    (:func:`tournament_ratings`). The games still to come are the format's
    (:meth:`arena.formats.TournamentFormat.remaining`): the fixed
    schedule of a round robin, the rest of a bracket, Swiss rounds paired by score (the
    model's approximation of the Dutch system: neighbours in score order, rematches
    allowed) with a one-point bye, Swiss-dynamics rounds with their eliminations, the
    arena's remaining battles between uniformly drawn pairs of the models still in. A
    model withdrawn after the start loses every game still to come (it forfeits them).
    So ``E[S]`` sums to the points the whole event distributes, and once the tournament
    is over it equals each entrant's actual score.

    Returns
    -------
    dict
        ``ratings`` (name, rating), ``expected_score`` rows (name, expected_score, stderr,
        p_win, p_survive by round for formats that eliminate), best first, ``iterations``.
    """
    entries = field_entries(tournament)
    names = [e.competitor.name for e in entries]
    ratings = tournament_ratings(tournament=tournament)
    points = {
        r["competitor_id"]: r["points"]
        for r in tournament_compute_standings(tournament=tournament)["standings"]
    }
    rest_of = format_get(tournament.format).remaining(tournament, entries)
    p = win_matrix(np.array([ratings[n] for n in names]))
    for i, e in enumerate(entries):
        if is_withdrawn(e):
            p[i, :], p[:, i] = 0.0, 1.0
            p[i, i] = 0.5
    rest = simulate_rest(
        p,
        points=[points[e.competitor_id] for e in entries],
        steps=rest_of.steps,
        alive=rest_of.alive,
        contenders=rest_of.contenders,
        iterations=PREDICTION_ITERATIONS,
        rng=sim_seed(tournament.seed, "predict") % 2**63,
    )
    future = iter(rest.p_alive.T.tolist())
    by_round = [known if known is not None else next(future) for known in rest_of.survival]
    rows = [
        {
            "name": n,
            "expected_score": float(rest.expected_score[i]),
            "stderr": float(rest.stderr[i]),
            "p_win": float(rest.p_win[i]),
            "p_survive": [float(col[i]) for col in by_round],
        }
        for i, n in enumerate(names)
    ]
    return {
        "ratings": [
            {"name": n, "rating": ratings[n]} for n in sorted(names, key=lambda n: -ratings[n])
        ],
        "expected_score": sorted(rows, key=lambda r: -r["expected_score"]),
        "iterations": rest.iterations,
    }


# --------------------------------------------------------------------------- reads


def _state(tournament: Tournament) -> Any:
    """What the live standings and prediction depend on (entrants, matches, byes), for the
    cache key; a finished or cancelled tournament no longer changes."""
    if tournament.status in (Tournament.Status.COMPLETED, Tournament.Status.CANCELLED):
        return tournament.finished_at.isoformat() if tournament.finished_at else None
    return [
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
        list(Bye.objects.filter(round__tournament=tournament).order_by("id").values_list("id")),
    ]


def _cached(kind: str, tournament: Tournament, state: Any, compute: Any) -> Any:
    key = content_key(
        f"tournament:{kind}",
        tournament.pk,
        tournament.status,
        tournament.format,
        tournament.config,
        tournament.seed,
        state,
    )
    value = cache.get(key)
    if value is None:
        value = compute()
        cache.set(key, value, timeout=3600)
    return value


def _standings(tournament: Tournament, state: Any) -> dict[str, Any]:
    by_round = _cached(
        "round_standings",
        tournament,
        state,
        lambda: format_get(tournament.format).round_standings(tournament),
    )
    if tournament.status == Tournament.Status.COMPLETED and tournament.results.get("standings"):
        return {
            "final": True,
            "standings": tournament.results["standings"],
            "tiebreaks": tournament.results.get("tiebreaks", []),
            "by_round": by_round,
        }
    live = _cached(
        "standings", tournament, state, lambda: tournament_compute_standings(tournament=tournament)
    )
    return {"final": False, **live, "by_round": by_round}


def _prediction(tournament: Tournament, state: Any) -> dict[str, Any]:
    final = tournament.status == Tournament.Status.COMPLETED
    if final and tournament.results.get("expected_score"):
        return {
            "final": True,
            "ratings": tournament.results.get("ratings", []),
            "expected_score": tournament.results["expected_score"],
            "iterations": 0,
        }

    def compute() -> dict[str, Any]:
        if len(field_entries(tournament)) < 2:
            return {"ratings": [], "expected_score": [], "iterations": 0}
        return tournament_predict(tournament=tournament)

    return {"final": final, **_cached("prediction", tournament, state, compute)}


def tournament_standings(*, tournament: Tournament) -> dict[str, Any]:
    """Final standings once finished (stored), live standings while running (cached under
    the tournament's state); ``by_round``: the standings after each complete round, for the
    formats that have them (Swiss), else empty."""
    return _standings(tournament, _state(tournament))


def tournament_prediction(*, tournament: Tournament) -> dict[str, Any]:
    """Predicted ``E[S]``, first-place and survival probabilities: what the API and the page show.

    Stored with the results once the tournament is finished; otherwise computed by
    :func:`tournament_predict` from the results so far and cached under the tournament's
    state (its matches, byes, eliminations and entrants), so polling clients do not rerun the
    simulation.
    """
    return _prediction(tournament, _state(tournament))


def tournament_outlook(*, tournament: Tournament) -> dict[str, Any]:
    """:func:`tournament_standings` and :func:`tournament_prediction` together (one state read):
    what the tournament page shows."""
    state = _state(tournament)
    return {
        "standings": _standings(tournament, state),
        "prediction": _prediction(tournament, state),
    }


def _side(match: Match, side: str, seeds: dict[int, int]) -> dict[str, Any]:
    comp = match.competitor_a if side == "a" else match.competitor_b
    return {"competitor_id": comp.pk, "name": comp.name, "seed": seeds.get(comp.pk)}


def tournament_bracket(*, tournament: Tournament) -> dict[str, Any]:
    """Round-by-round pairings with results (the bracket of a knockout; pairings otherwise)."""
    seeds = {e.competitor_id: e.seed for e in field_entries(tournament)}
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
    rules = format_get(tournament.format)
    for rnd in rounds:
        matches = []
        for m in rnd.matches.all():
            winner = {"model_a": "a", "model_b": "b"}.get(m.outcome or "")
            advanced_on_seed = False
            advancer = rules.advancer(m, seeds)  # knockouts: somebody advances, ties included
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
        "rounds_total": rules.total_rounds(tournament),
        "rounds": out_rounds,
        "champion": tournament.results.get("champion") if tournament.results else None,
    }


def tournament_matches(
    *, tournament: Tournament, round_number: int | None = None, include_details: bool = False
) -> list[dict[str, Any]]:
    """A tournament's (or one round's) matches; prompt, answers and judgments only once judged."""
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
                "judgments",
                # the match's own judging; re-judge runs are shown with their run
                queryset=Judgment.objects.filter(run__isnull=True).order_by(
                    "judge", "sample", "order", "stage"
                ),
            ),
        )
    seeds = {e.competitor_id: e.seed for e in field_entries(tournament)}
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
                    "latency_ms": j.latency_ms,
                    "prompt_tokens": j.prompt_tokens,
                    "completion_tokens": j.completion_tokens,
                    "cost": str(j.cost),
                }
                for j in m.judgments.all()
            ]
            # what judging the match cost: the sum of its judge calls (a debate's every round)
            row["judge_cost"] = str(sum((j.cost for j in m.judgments.all()), Decimal(0)))
        out.append(row)
    return out
