"""Competitive Swiss-system dynamics: one benchmark (prompt set) per round, eliminations.

``config``: ``rounds``, the list of prompt set names, one per round; ``eliminate``, the
``T_k`` lowest records removed after round ``k``. Players with the same record meet at random,
the odd one out gets a zero-point bye; ties between records are broken at random.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from arena.formats.base import (
    Errors,
    Remaining,
    RoundPairing,
    TournamentFormat,
    current_round,
    field_entries,
    format_register,
    is_open,
    record_wins,
    unfinished_pairs,
)
from arena.models import Entry, PromptSet, Round, Tournament
from clients import sim_seed
from ranking.simulate import Cut, FixedRound, ScoreRound


class SwissDynamics(TournamentFormat):
    kind = "swiss_dynamics"
    label = "Benchmark-sequence Swiss (with eliminations)"
    failure_sensitivity = True
    options = frozenset({"rounds", "eliminate"})
    help = (
        '{"rounds": ["set-a", "set-b", "set-c"], "eliminate": [2, 2]} — one prompt set per '
        "round; how many lowest-record models leave after each round"
    )

    def validate(
        self, config: dict[str, Any], *, n: int, prompt_sets: Sequence[PromptSet], errors: Errors
    ) -> dict[str, Any]:
        rounds = config.get("rounds")
        names = {p.name for p in prompt_sets}
        if (
            not isinstance(rounds, list)
            or not rounds
            or not all(isinstance(r, str) for r in rounds)
        ):
            errors["config.rounds"] = [
                "must be a non-empty list of prompt set names, one per round"
            ]
            rounds = []
        else:
            missing = [r for r in rounds if r not in names]
            if missing:
                errors["config.rounds"] = [
                    f"prompt set(s) {', '.join(missing)} are not among the tournament's prompt sets"
                ]
        eliminate = config.get("eliminate", [0] * len(rounds))
        if (
            not isinstance(eliminate, list)
            or len(eliminate) > len(rounds)
            or not all(isinstance(t, int) and not isinstance(t, bool) and t >= 0 for t in eliminate)
        ):
            errors["config.eliminate"] = [
                "must be a list of non-negative integers, at most one per round"
            ]
            eliminate = []
        elif sum(eliminate) > n - 2:
            errors["config.eliminate"] = [
                f"eliminates {sum(eliminate)} of {n} entrants; at least 2 must remain"
            ]
        return {
            "rounds": rounds,
            "eliminate": list(eliminate) + [0] * (len(rounds) - len(eliminate)),
        }

    def total_rounds(self, tournament: Tournament) -> int:
        return len(tournament.config["rounds"])

    def prompt_pools(self, tournament: Tournament) -> list[tuple[PromptSet | None, list[int]]]:
        names = tournament.config["rounds"]
        sets = {p.name: p for p in PromptSet.objects.filter(name__in=names)}
        return [
            (sets[name], [k for k, n in enumerate(names, 1) if n == name])
            for name in dict.fromkeys(names)
        ]

    def pair(self, tournament: Tournament, number: int) -> RoundPairing:
        rng = np.random.default_rng(sim_seed(tournament.seed, "dynamics", number))
        wins = record_wins(tournament)
        alive = [e for e in field_entries(tournament) if e.eliminated_in_round is None]
        keys = rng.random(len(alive))
        order = sorted(range(len(alive)), key=lambda i: (-wins[alive[i].competitor_id], keys[i]))
        ranked = [alive[i] for i in order]
        return RoundPairing(
            pairs=[(ranked[k], ranked[k + 1]) for k in range(0, len(ranked) - 1, 2)],
            byes=[(ranked[-1], 0.0)] if len(ranked) % 2 else [],
        )

    def after_round(self, tournament: Tournament, number: int) -> None:
        """Remove the ``T_k`` lowest records (ties broken at random)."""
        cuts = tournament.config["eliminate"]
        t_k = cuts[number - 1] if number <= len(cuts) else 0
        if t_k <= 0:
            return
        wins = record_wins(tournament)
        alive = [e for e in field_entries(tournament) if e.eliminated_in_round is None]
        keys = np.random.default_rng(sim_seed(tournament.seed, "eliminate", number)).random(
            len(alive)
        )
        order = sorted(range(len(alive)), key=lambda i: (wins[alive[i].competitor_id], keys[i]))
        out = [alive[i].pk for i in order[:t_k]]
        Entry.objects.filter(pk__in=out).update(eliminated_in_round=number)

    def remaining(self, tournament: Tournament, entries: list[Entry]) -> Remaining:
        """Swiss-dynamics rounds (score pairing, zero-point bye) with their eliminations."""
        alive = [e.eliminated_in_round is None for e in entries]
        steps: list[Any] = []
        if is_open(tournament):
            rnd, current, complete = current_round(tournament)
            index = {e.competitor_id: i for i, e in enumerate(entries)}
            cuts = list(tournament.config["eliminate"])
            if not complete:
                steps += [FixedRound(pairs=unfinished_pairs(rnd, index)), Cut(t=cuts[current - 1])]
            for k in range(current, len(tournament.config["rounds"])):
                steps += [ScoreRound(bye_points=0.0), Cut(t=cuts[k])]
            steps = [s for s in steps if s != FixedRound(pairs=())]
        done = tournament.rounds.filter(status=Round.Status.COMPLETE).count()
        known: list[list[float] | None] = [
            [float(e.eliminated_in_round is None or e.eliminated_in_round > k) for e in entries]
            for k in range(1, done + 1)
        ]
        future: list[list[float] | None] = [None] * sum(isinstance(s, Cut) for s in steps)
        return Remaining(steps=steps, survival=known + future, alive=alive)


format_register(SwissDynamics())
