"""Gauntlet: the first seed (the reference, e.g. the incumbent) plays every other entrant.

``config``: ``games`` (default 1), games between the reference and each challenger, with the
sides alternating; ``block`` (default all), challengers the reference meets per round. The
schedule is :func:`ranking.gauntlet.gauntlet_schedule`. Challengers are ranked by their score
against the reference, ties by seed (:func:`ranking.gauntlet.gauntlet_order`); the reference
is listed apart (no rank) and does not compete for first place in the prediction.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from arena.formats.base import (
    Errors,
    Remaining,
    RoundPairing,
    TournamentFormat,
    current_round,
    field_entries,
    format_register,
    int_option,
    is_open,
    unfinished_pairs,
)
from arena.models import Entry, PromptSet, Tournament
from ranking.gauntlet import GauntletSchedule, gauntlet_order, gauntlet_schedule
from ranking.simulate import FixedRound


class Gauntlet(TournamentFormat):
    kind = "gauntlet"
    label = "Gauntlet (the first seed against each other entrant)"
    options = frozenset({"games", "block"})
    help = (
        '{"games": 2, "block": 4} — the first seed plays each other entrant 2 times (sides '
        "alternating), 4 of them per round (default: 1 game, all of them in one round)"
    )

    def validate(
        self, config: dict[str, Any], *, n: int, prompt_sets: Sequence[PromptSet], errors: Errors
    ) -> dict[str, Any]:
        challengers = max(1, n - 1)
        return {
            "games": int_option(config, "games", 1, 100, 1, errors),
            "block": int_option(config, "block", 1, challengers, challengers, errors),
        }

    def _schedule(self, tournament: Tournament, n: int) -> GauntletSchedule:
        return gauntlet_schedule(
            n, games=int(tournament.config["games"]), block=int(tournament.config["block"])
        )

    def total_rounds(self, tournament: Tournament) -> int:
        return len(self._schedule(tournament, len(field_entries(tournament))).rounds)

    def pair(self, tournament: Tournament, number: int) -> RoundPairing:
        entries = field_entries(tournament)
        games = self._schedule(tournament, len(entries)).rounds[number - 1]
        return RoundPairing(pairs=[(entries[a], entries[b]) for a, b in games])

    def standings(self, tournament: Tournament, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The reference first, unranked; then the challengers by score against it, then seed."""
        by_seed = sorted(rows, key=lambda r: r["seed"])
        reference = {**by_seed[0], "rank": None, "place": "reference"}
        order = gauntlet_order([r["points"] for r in by_seed])
        return [reference] + [
            {**by_seed[int(i)], "rank": rank} for rank, i in enumerate(order, start=1)
        ]

    def remaining(self, tournament: Tournament, entries: list[Entry]) -> Remaining:
        """The rest of the fixed schedule; only the challengers compete for first place."""
        alive = [True] * len(entries)
        contenders = [i > 0 for i in range(len(entries))]
        if not is_open(tournament):
            return Remaining(steps=[], survival=[], alive=alive, contenders=contenders)
        rnd, current, _ = current_round(tournament)
        index = {e.competitor_id: i for i, e in enumerate(entries)}
        schedule = self._schedule(tournament, len(entries))
        steps = [FixedRound(pairs=unfinished_pairs(rnd, index))]
        steps += [FixedRound(pairs=games) for games in schedule.rounds[current:]]
        return Remaining(
            steps=[s for s in steps if s.pairs], survival=[], alive=alive, contenders=contenders
        )


format_register(Gauntlet())
