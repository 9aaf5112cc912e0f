"""Reads behind the tournament pages: list with progress, bracket tree, Swiss rounds, cross-table.

Built straight from Entry, Round, Match, Bye and ``Tournament.results`` with a fixed number of
queries per page; the bracket's reach probabilities come from ``ranking``, and the Monte Carlo
table is the one prediction the API serves too (:func:`tournament_prediction`).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from typing import Any

from django.core.cache import cache
from django.db.models import Count, Q

from arena import models as m
from arena.selectors import content_key
from arena.selectors.leaderboard import leaderboard_get
from arena.selectors.tournaments import tournament_prediction
from arena.services.tournaments import bracket_advancer

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
                "format": t.get_format_display(),
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


def _result_text(pts: tuple[float, float] | None) -> str:
    if pts is None:
        return "–"
    fmt = {1.0: "1", 0.5: "½", 0.0: "0"}
    return f"{fmt[pts[0]]}–{fmt[pts[1]]}"


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
    fmt = tournament.format
    if fmt == m.Tournament.Format.SINGLE_ELIMINATION:
        data["bracket"] = _bracket(entries, rounds, matches)
    if fmt in (
        m.Tournament.Format.SWISS,
        m.Tournament.Format.SWISS_DYNAMICS,
        m.Tournament.Format.ARENA,
    ):
        data["swiss_rounds"] = _swiss_rounds(
            rounds, matches, byes, names, {e.competitor_id: e.eliminated_in_round for e in entries}
        )
    if fmt in (m.Tournament.Format.ROUND_ROBIN, m.Tournament.Format.DOUBLE_ROUND_ROBIN):
        data["crosstable"] = _crosstable(entries, matches, byes)
    data["final_standings"] = _final_standings(tournament.results)
    data["simulation"] = _simulation(tournament)
    data["sensitivity"] = _sensitivity(tournament.results)
    if (
        data["sensitivity"] is None
        and fmt == m.Tournament.Format.SWISS_DYNAMICS
        and len(entries) >= 4
    ):
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


def _swiss_rounds(
    rounds: list[m.Round],
    matches: list[m.Match],
    byes: list[m.Bye],
    names: dict[int, str],
    eliminated: dict[int, int | None],
) -> list[dict[str, Any]]:
    """Pairings of each round and the standings after it (points, Buchholz, Sonneborn-Berger, wins)."""
    by_round: dict[int, list[m.Match]] = defaultdict(list)
    for mt in matches:
        by_round[mt.round.number if mt.round else 0].append(mt)
    byes_by_round: dict[int, list[m.Bye]] = defaultdict(list)
    for b in byes:
        byes_by_round[b.round.number].append(b)
    points: dict[int, float] = defaultdict(float)
    wins: dict[int, int] = defaultdict(int)
    games: dict[int, list[tuple[int, float]]] = defaultdict(list)  # (opponent, my points)
    out = []
    numbers = sorted({r.number for r in rounds} | set(by_round))
    for cid in names:
        points[cid] += 0.0
    for number in numbers:
        pairings = []
        for board, mt in enumerate(by_round.get(number, []), start=1):
            pts = _points(mt)
            pairings.append(
                {
                    "board": mt.board or board,
                    "a": mt.competitor_a.name,
                    "a_id": mt.competitor_a_id,
                    "b": mt.competitor_b.name,
                    "b_id": mt.competitor_b_id,
                    "result": _result_text(pts),
                    "status": mt.get_status_display(),
                }
            )
            if pts is not None:
                points[mt.competitor_a_id] += pts[0]
                points[mt.competitor_b_id] += pts[1]
                wins[mt.competitor_a_id] += pts[0] == 1.0
                wins[mt.competitor_b_id] += pts[1] == 1.0
                games[mt.competitor_a_id].append((mt.competitor_b_id, pts[0]))
                games[mt.competitor_b_id].append((mt.competitor_a_id, pts[1]))
        round_byes = []
        for b in byes_by_round.get(number, []):
            points[b.competitor_id] += b.points
            round_byes.append(
                {"name": b.competitor.name, "kind": b.get_kind_display(), "points": b.points}
            )
        standings: list[dict[str, Any]] = []
        for cid, pts_total in points.items():
            bh = sum(points[o] for o, _ in games[cid])
            sb = sum(points[o] * p for o, p in games[cid])
            standings.append(
                {
                    "id": cid,
                    "name": names.get(cid, f"#{cid}"),
                    "points": pts_total,
                    "bh": bh,
                    "sb": sb,
                    "wins": wins[cid],
                    "played": len(games[cid]),
                    "out": (eliminated.get(cid) or 10**9) <= number,
                }
            )
        standings.sort(key=lambda r: (-r["points"], -r["bh"], -r["sb"], -r["wins"], r["name"]))
        for i, r in enumerate(standings, start=1):
            r["rank"] = i
        status = next((r.get_status_display() for r in rounds if r.number == number), "")
        out.append(
            {
                "number": number,
                "status": status,
                "pairings": pairings,
                "byes": round_byes,
                "standings": standings,
            }
        )
    return out


# --------------------------------------------------------------------------- round robin


def _crosstable(
    entries: list[m.Entry], matches: list[m.Match], byes: list[m.Bye]
) -> dict[str, Any]:
    ids = [e.competitor_id for e in entries]
    cells: dict[tuple[int, int], list[str]] = defaultdict(list)
    total: dict[int, float] = defaultdict(float)
    for mt in matches:
        pts = _points(mt)
        if pts is None:
            continue
        fmt = {1.0: "1", 0.5: "½", 0.0: "0"}
        cells[(mt.competitor_a_id, mt.competitor_b_id)].append(fmt[pts[0]])
        cells[(mt.competitor_b_id, mt.competitor_a_id)].append(fmt[pts[1]])
        total[mt.competitor_a_id] += pts[0]
        total[mt.competitor_b_id] += pts[1]
    for b in byes:
        total[b.competitor_id] += b.points
    rows: list[dict[str, Any]] = []
    for e in entries:
        rows.append(
            {
                "seed": e.seed,
                "name": e.competitor.name,
                "id": e.competitor_id,
                "total": total[e.competitor_id],
                "cells": [
                    None
                    if o == e.competitor_id
                    else " ".join(cells.get((e.competitor_id, o), [])) or "·"
                    for o in ids
                ],
            }
        )
    order = sorted(rows, key=lambda r: (-r["total"], r["seed"]))
    for i, r in enumerate(order, start=1):
        r["place"] = i
    return {"rows": rows, "header": [e.seed for e in entries]}


# --------------------------------------------------------------------------- Monte Carlo


def _simulation(tournament: m.Tournament) -> dict[str, Any] | None:
    """The Monte Carlo table: :func:`arena.selectors.tournaments.tournament_prediction`, shaped."""
    try:
        prediction = tournament_prediction(tournament=tournament)
    except Exception:  # the rest of the page still renders without the table
        log.exception("tournament prediction failed", extra={"tournament": tournament.id})
        return None
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


def _final_standings(results: Any) -> dict[str, Any] | None:
    """The standings the tournament service stored at the end, with its FIDE tie-breaks."""
    if not isinstance(results, dict) or not isinstance(results.get("standings"), list):
        return None
    names = [str(t) for t in results.get("tiebreaks") or []]
    rows = []
    for r in results["standings"]:
        if not isinstance(r, dict):
            return None
        tb = r.get("tiebreaks") or {}
        rows.append(
            {
                "rank": r.get("rank"),
                "name": r.get("name"),
                "points": r.get("points"),
                "played": r.get("played"),
                "wins": r.get("wins"),
                "losses": r.get("losses"),
                "ties": r.get("ties"),
                "place": r.get("place"),
                "tiebreaks": [tb.get(k) for k in names],
            }
        )
    return {"tiebreaks": names, "rows": rows} if rows else None


def _sensitivity_computed(
    tournament: m.Tournament, entries: list[m.Entry]
) -> dict[str, Any] | None:
    """Failure-sensitivity sweep from the entrants' ratings when the run did not store one (cached)."""
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
