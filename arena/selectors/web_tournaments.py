"""Reads behind the tournament pages: list with progress, bracket tree, rounds, cross-table.

The standings and the Monte Carlo table are the ones the API serves
(:func:`~arena.selectors.tournaments.tournament_standings`,
:func:`~arena.selectors.tournaments.tournament_prediction`), only shaped for the template here.
Each format names the view of its games (:attr:`arena.formats.TournamentFormat.page_view`:
a bracket, rounds of pairings or a cross-table) and has a template partial,
``arena/formats/<format>.html``; the bracket's reach probabilities come from ``ranking``.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from typing import Any

from django.core.cache import cache
from django.db.models import Count, Q

from arena import models as m
from arena.formats import format_get, format_label
from arena.formats.single_elimination import bracket_advancer
from arena.selectors import content_key
from arena.selectors.leaderboard import leaderboard_get
from arena.selectors.tournaments import tournament_outlook

log = logging.getLogger(__name__)

FINISHED = [s.value for s in m.Match.FINISHED]
SIMULATION_ITERATIONS = 4000


def tournament_list_rows() -> list[dict[str, Any]]:
    """Every tournament with status and match progress (one query)."""
    qs = m.Tournament.objects.annotate(
        n_matches=Count("matches", distinct=True),
        n_done=Count("matches", filter=Q(matches__status__in=FINISHED), distinct=True),
        n_entries=Count("entries", distinct=True),
    ).order_by("-created_at")
    rows = []
    for t in qs:
        progress = (
            t.n_done / t.n_matches
            if t.n_matches
            else (1.0 if t.status == m.Tournament.Status.COMPLETED else 0.0)
        )
        rows.append(
            {
                "id": t.id,
                "name": t.name,
                "format": format_label(t.format),
                "status": t.status,
                "status_label": t.get_status_display(),
                "entries": t.n_entries,
                "matches": t.n_matches,
                "done": t.n_done,
                "progress": round(100 * progress),
                "created_at": t.created_at,
                "finished_at": t.finished_at,
            }
        )
    return rows


def _points(match: m.Match) -> tuple[float, float] | None:
    """Points to (A, B) for a finished match, ``None`` while it is undecided."""
    if match.outcome == m.Outcome.MODEL_A:
        return 1.0, 0.0
    if match.outcome == m.Outcome.MODEL_B:
        return 0.0, 1.0
    if match.outcome in (m.Outcome.TIE, m.Outcome.BOTH_BAD):
        return 0.5, 0.5
    if match.forfeit_by_id is not None:
        return (0.0, 1.0) if match.forfeit_by_id == match.competitor_a_id else (1.0, 0.0)
    return None


_POINTS_TEXT = {1.0: "1", 0.5: "½", 0.0: "0"}


def _result_text(pts: tuple[float, float] | None) -> str:
    if pts is None:
        return "–"
    return f"{_POINTS_TEXT[pts[0]]}–{_POINTS_TEXT[pts[1]]}"


def _find(results: Any, *keys: str) -> Any:
    """The first value under any of ``keys`` in a nested results document."""
    if isinstance(results, dict):
        for key in keys:
            if key in results and results[key]:
                return results[key]
        for value in results.values():
            found = _find(value, *keys)
            if found is not None:
                return found
    return None


def _entry_ratings(entries: list[m.Entry]) -> list[float]:
    board = leaderboard_get(method="bt") or {}
    current = {r.get("competitor_id"): r["rating"] for r in board.get("ratings", [])}
    return [
        e.initial_rating if e.initial_rating is not None else current.get(e.competitor_id, 1000.0)
        for e in entries
    ]


def tournament_page_data(*, tournament: m.Tournament) -> dict[str, Any]:
    """Everything the tournament page shows, read in a handful of queries."""
    entries = list(tournament.entries.select_related("competitor").order_by("seed"))
    rounds = list(tournament.rounds.order_by("number"))
    matches = list(
        tournament.matches.select_related("competitor_a", "competitor_b", "round").order_by(
            "round__number", "board", "id"
        )
    )
    byes = list(
        m.Bye.objects.filter(round__tournament=tournament).select_related("competitor", "round")
    )
    names = {e.competitor_id: e.competitor.name for e in entries}
    for mt in matches:
        names.setdefault(mt.competitor_a_id, mt.competitor_a.name)
        names.setdefault(mt.competitor_b_id, mt.competitor_b.name)
    n_done = sum(1 for mt in matches if mt.status in FINISHED)
    data: dict[str, Any] = {
        "tournament": tournament,
        "entries": [
            {
                "seed": e.seed,
                "name": e.competitor.name,
                "id": e.competitor_id,
                "rating": e.initial_rating,
                "eliminated_in_round": e.eliminated_in_round,
                "withdrawn": e.withdrawn,
            }
            for e in entries
        ],
        "n_matches": len(matches),
        "n_done": n_done,
        "progress": round(100 * n_done / len(matches)) if matches else 0,
        "config": tournament.config,
    }
    rules = format_get(tournament.format)
    data["format_label"] = rules.label
    data["format_partial"] = f"arena/formats/{tournament.format}.html"
    if rules.page_view == "bracket":
        data["bracket"] = _bracket(entries, rounds, matches)
    elif rules.page_view == "rounds":
        data["rounds"] = _rounds(rounds, matches, byes)
    elif rules.page_view == "crosstable":
        data["crosstable"] = _crosstable(entries, matches)
    try:
        outlook: dict[str, Any] | None = tournament_outlook(tournament=tournament)
    except Exception:  # the rest of the page still renders without the tables
        log.exception("tournament outlook failed", extra={"tournament": tournament.id})
        outlook = None
    data["standings"] = _standings(outlook["standings"]) if outlook else None
    if data.get("rounds") and outlook:
        _round_standings(data, outlook["standings"])
    if data.get("crosstable") and data["standings"]:
        by_name = {r["name"]: r for r in data["standings"]["rows"]}
        for row in data["crosstable"]["rows"]:
            standing = by_name.get(row["name"], {})
            row["total"], row["place"] = standing.get("points"), standing.get("rank")
    data["simulation"] = _simulation(outlook["prediction"]) if outlook else None
    data["sensitivity"] = _sensitivity(tournament.results)
    if data["sensitivity"] is None and rules.failure_sensitivity and len(entries) >= 4:
        data["sensitivity"] = _sensitivity_computed(tournament, entries)
    return data


# --------------------------------------------------------------------------- bracket


def _bracket(
    entries: list[m.Entry], rounds: list[m.Round], matches: list[m.Match]
) -> dict[str, Any]:
    n = len(entries)
    probs: list[list[float]] | None = None
    n_rounds = max(1, (max(n, 2) - 1).bit_length())
    try:
        from ranking.bracket import bracket_probabilities

        if n >= 2:
            result = bracket_probabilities(_entry_ratings(entries))
            probs = result.p_reach.tolist()
            n_rounds = result.rounds
    except Exception:  # the tree still renders without probabilities
        log.exception("bracket probabilities failed")
    p_by_comp = {e.competitor_id: (probs[i] if probs else None) for i, e in enumerate(entries)}
    seed_of = {e.competitor_id: e.seed for e in entries}
    by_round: dict[int, list[m.Match]] = defaultdict(list)
    for mt in matches:
        if mt.round is not None:
            by_round[mt.round.number].append(mt)
    columns = []
    for k in range(1, n_rounds + 1):
        expected = 1 << (n_rounds - k)
        cells = []
        for mt in by_round.get(k, []):
            winner = bracket_advancer(mt, seed_of)
            slots = []
            for cid, name in (
                (mt.competitor_a_id, mt.competitor_a.name),
                (mt.competitor_b_id, mt.competitor_b.name),
            ):
                p = p_by_comp.get(cid)
                slots.append(
                    {
                        "name": name,
                        "id": cid,
                        "seed": seed_of.get(cid),
                        "winner": winner == cid,
                        "p_next": (p[k] if p and k < len(p) else None),
                    }
                )
            on_seed = winner is not None and mt.outcome not in (
                m.Outcome.MODEL_A,
                m.Outcome.MODEL_B,
            )
            cells.append(
                {
                    "slots": slots,
                    "status": mt.get_status_display() + (" (advanced on seed)" if on_seed else ""),
                    "done": winner is not None,
                }
            )
        while len(cells) < expected:
            cells.append(
                {
                    "slots": [
                        {
                            "name": "to be decided",
                            "id": None,
                            "seed": None,
                            "winner": False,
                            "p_next": None,
                        }
                    ]
                    * 2,
                    "status": "Not yet played",
                    "done": False,
                }
            )
        label = "Final" if k == n_rounds else ("Semi-finals" if k == n_rounds - 1 else f"Round {k}")
        columns.append({"number": k, "label": label, "matches": cells})
    table = []
    if probs:
        for i, e in enumerate(entries):
            table.append(
                {
                    "seed": e.seed,
                    "name": e.competitor.name,
                    "id": e.competitor_id,
                    "p_reach": probs[i][1:],
                }
            )
    return {
        "rounds": columns,
        "n_rounds": n_rounds,
        "probabilities": table,
        "round_labels": [c["label"] for c in columns[:-1]] + ["Final", "Champion"]
        if columns
        else [],
    }


# --------------------------------------------------------------------------- Swiss


def _rounds(
    rounds: list[m.Round], matches: list[m.Match], byes: list[m.Bye]
) -> list[dict[str, Any]]:
    """The pairings of each round with their results and byes."""
    by_round: dict[int, list[m.Match]] = defaultdict(list)
    for mt in matches:
        by_round[mt.round.number if mt.round else 0].append(mt)
    byes_by_round: dict[int, list[m.Bye]] = defaultdict(list)
    for b in byes:
        byes_by_round[b.round.number].append(b)
    status = {r.number: r.get_status_display() for r in rounds}
    return [
        {
            "number": number,
            "status": status.get(number, ""),
            "pairings": [
                {
                    "board": mt.board or board,
                    "a": mt.competitor_a.name,
                    "b": mt.competitor_b.name,
                    "result": _result_text(_points(mt)),
                    "status": mt.get_status_display(),
                }
                for board, mt in enumerate(by_round.get(number, []), start=1)
            ],
            "byes": [
                {"name": b.competitor.name, "kind": b.get_kind_display(), "points": b.points}
                for b in byes_by_round.get(number, [])
            ],
        }
        for number in sorted(set(status) | set(by_round))
    ]


# --------------------------------------------------------------------------- round robin


def _crosstable(entries: list[m.Entry], matches: list[m.Match]) -> dict[str, Any]:
    """Each pair's results, row model against column model (places come from the standings)."""
    ids = [e.competitor_id for e in entries]
    cells: dict[tuple[int, int], list[str]] = defaultdict(list)
    for mt in matches:
        pts = _points(mt)
        if pts is None:
            continue
        cells[(mt.competitor_a_id, mt.competitor_b_id)].append(_POINTS_TEXT[pts[0]])
        cells[(mt.competitor_b_id, mt.competitor_a_id)].append(_POINTS_TEXT[pts[1]])
    rows = [
        {
            "seed": e.seed,
            "name": e.competitor.name,
            "id": e.competitor_id,
            "cells": [
                None
                if o == e.competitor_id
                else " ".join(cells.get((e.competitor_id, o), [])) or "·"
                for o in ids
            ],
        }
        for e in entries
    ]
    return {"rows": rows, "header": [e.seed for e in entries]}


# --------------------------------------------------------------------------- Monte Carlo


def _simulation(prediction: dict[str, Any]) -> dict[str, Any] | None:
    """The Monte Carlo table: the prediction the API serves (``tournament_prediction``), shaped."""
    if not prediction["expected_score"]:
        return None
    rows = [
        {
            "name": r["name"],
            "expected_score": r["expected_score"],
            "stderr": r["stderr"],
            "p_survive": list(r.get("p_survive") or []),
            "p_first": r["p_win"],
        }
        for r in prediction["expected_score"]
    ]
    if all(all(p > 1 - 1e-12 for p in r["p_survive"]) for r in rows):
        for r in rows:  # nobody is ever eliminated: survival columns carry no information
            r["p_survive"] = []
    width = max((len(r["p_survive"]) for r in rows), default=0)
    source = (
        "final scores"
        if prediction["final"]
        else "points so far plus the expected points of the games to come"
    )
    return {
        "rows": rows,
        "survival_rounds": list(range(1, width + 1)),
        "source": source,
        "iterations": prediction["iterations"] or None,
    }


def _n_rounds(config: dict[str, Any], default: int) -> int:
    rounds = (config or {}).get("rounds")
    if isinstance(rounds, list):  # Swiss dynamics: one prompt set per round
        return len(rounds) or default
    if isinstance(rounds, int) and not isinstance(rounds, bool) and rounds > 0:
        return rounds
    return default


def _sensitivity(results: Any) -> dict[str, Any] | None:
    """The failure-sensitivity sweep stored by a Swiss-dynamics run, as polylines for a chart."""
    fs = _find(results, "failure_sensitivity", "sensitivity")
    if not isinstance(fs, dict):
        return None
    models = fs.get("models") or []
    levels = fs.get("levels") or []
    es = fs.get("expected_score") or []
    if not models or not levels or len(es) != len(levels):
        return None
    return {
        "models": models,
        "levels": levels,
        "expected_score": es,
        "profile": fs.get("profile") or [],
        "retention": fs.get("retention") or [],
    }


def _standings(standings: dict[str, Any]) -> dict[str, Any] | None:
    """The standings the API serves (``tournament_standings``), shaped for a table."""
    names = [str(t) for t in standings["tiebreaks"]]
    rows = [
        {
            "rank": r.get("rank"),
            "name": r.get("name"),
            "points": r.get("points"),
            "played": r.get("played"),
            "wins": r.get("wins"),
            "losses": r.get("losses"),
            "ties": r.get("ties"),
            "place": r.get("place"),
            "eliminated_in_round": r.get("eliminated_in_round"),
            "tiebreaks": [(r.get("tiebreaks") or {}).get(k) for k in names],
        }
        for r in standings["standings"]
    ]
    return {"final": standings["final"], "tiebreaks": names, "rows": rows} if rows else None


def _round_standings(data: dict[str, Any], standings: dict[str, Any]) -> None:
    """Put the API's standings after each complete round (``by_round``) on the page's rounds."""
    names = [str(t) for t in standings["tiebreaks"]]
    after = {r["round"]: r["standings"] for r in standings.get("by_round", [])}
    data["round_tiebreaks"] = names
    for rd in data["rounds"]:
        rd["standings"] = [
            {
                "rank": row["rank"],
                "name": row["name"],
                "points": row["points"],
                "tiebreaks": [row["tiebreaks"].get(k) for k in names],
            }
            for row in after.get(rd["number"], [])
        ]


def _sensitivity_computed(
    tournament: m.Tournament, entries: list[m.Entry]
) -> dict[str, Any] | None:
    """Failure-sensitivity sweep from the entrants' ratings when the run stored none (cached)."""
    ratings = _entry_ratings(entries)
    names = [e.competitor.name for e in entries]
    k = _n_rounds(tournament.config, 3)
    key = content_key("web:sens", tournament.id, tournament.seed, names, ratings, k)
    cached = cache.get(key)
    if cached is not None:
        return cached
    try:
        import numpy as np

        from ranking.bracket import win_matrix
        from ranking.simulate import failure_sensitivity

        n = len(names)
        fs = failure_sensitivity(
            np.broadcast_to(win_matrix(ratings), (k, n, n)),
            names=names,
            iterations=SIMULATION_ITERATIONS,
            rng=tournament.seed,
        )
    except Exception:
        log.exception("failure sensitivity failed", extra={"tournament": tournament.id})
        return None
    result = {
        "models": list(fs.models),
        "levels": list(fs.levels),
        "expected_score": fs.expected_score.tolist(),
        "profile": list(fs.profile),
        "retention": fs.retention.tolist(),
        "computed": True,
    }
    cache.set(key, result, timeout=3600)
    return result
