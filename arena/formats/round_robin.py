"""Round robin and double round robin: the FIDE Berger schedule (:func:`ranking.round_robin`).

``config``: ``bye_points`` (0, 0.5 or 1; default 0) for the player sitting out with an odd
field. Standings break ties by Sonneborn-Berger, direct encounter and wins.
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
    is_open,
    unfinished_pairs,
)
from arena.formats.swiss import swiss_state_for, tiebreak_standings
from arena.models import Entry, PromptSet, Tournament
from ranking import round_robin
from ranking.simulate import FixedRound


class RoundRobin(TournamentFormat):
    kind = "round_robin"
    label = "Round robin"
    page_view = "crosstable"
    options = frozenset({"bye_points"})
    help = '{"bye_points": 0} — points for the bye with an odd number of entrants (0, 0.5 or 1)'
    tiebreaks = ("SB", "DE", "WIN")
    double = False

    def validate(
        self, config: dict[str, Any], *, n: int, prompt_sets: Sequence[PromptSet], errors: Errors
    ) -> dict[str, Any]:
        bye = config.get("bye_points", 0.0)
        if isinstance(bye, bool) or bye not in (0, 0.5, 1):
            errors["config.bye_points"] = [f"must be 0, 0.5 or 1; got {bye!r}"]
        return {"bye_points": float(bye) if bye in (0, 0.5, 1) else 0.0}

    def total_rounds(self, tournament: Tournament) -> int:
        n = tournament.entries.filter(withdrawn=False).count()
        return (n - 1 if n % 2 == 0 else n) * (2 if self.double else 1)

    def _bye_points(self, tournament: Tournament) -> float:
        return float(tournament.config.get("bye_points", 0.0))

    def pair(self, tournament: Tournament, number: int) -> RoundPairing:
        entries = field_entries(tournament)
        schedule = round_robin(len(entries), double=self.double)
        bye = schedule.byes[number - 1]
        return RoundPairing(
            pairs=[(entries[int(a)], entries[int(b)]) for a, b in schedule.rounds[number - 1]],
            byes=[] if bye is None else [(entries[int(bye)], self._bye_points(tournament))],
        )

    def standings(self, tournament: Tournament, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        state = swiss_state_for(
            tournament,
            bye_points=self._bye_points(tournament),
            total_rounds=self.total_rounds(tournament),
        )
        return tiebreak_standings(state, rows, self.tiebreaks)

    def remaining(self, tournament: Tournament, entries: list[Entry]) -> Remaining:
        """The rest of the fixed schedule."""
        alive = [True] * len(entries)
        if not is_open(tournament):
            return Remaining(steps=[], survival=[], alive=alive)
        rnd, current, _ = current_round(tournament)
        index = {e.competitor_id: i for i, e in enumerate(entries)}
        schedule = round_robin(len(entries), double=self.double)
        bye_points = self._bye_points(tournament)
        steps = [FixedRound(pairs=unfinished_pairs(rnd, index))]
        steps += [
            FixedRound(
                pairs=tuple((int(a), int(b)) for a, b in games),
                byes=() if bye is None else ((int(bye), bye_points),),
            )
            for games, bye in list(zip(schedule.rounds, schedule.byes))[current:]
        ]
        return Remaining(
            steps=[s for s in steps if s != FixedRound(pairs=())], survival=[], alive=alive
        )


class DoubleRoundRobin(RoundRobin):
    kind = "double_round_robin"
    label = "Double round robin"
    help = '{"bye_points": 0} — every pair meets twice, once with each side first'
    double = True


format_register(RoundRobin())
format_register(DoubleRoundRobin())
