"""Arena: ``battles`` judged battles among the entrants, ``batch`` per round.

Pairs are chosen by the matchmaking ``policy`` (``active`` or ``random``;
:func:`arena.services.arena_mode.arena_pairs_for_tournament` over :mod:`ranking.matchmaking`).
A model withdrawn after the start leaves the draw (its battles are then drawn among the
models still in).
"""

from __future__ import annotations

import math
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
    is_withdrawn,
    unfinished_pairs,
)
from arena.models import Entry, Match, PromptSet, Tournament
from arena.services.arena_mode import arena_pairs_for_tournament
from ranking.simulate import FixedRound, RandomRound


class Arena(TournamentFormat):
    kind = "arena"
    label = "Open arena"
    options = frozenset({"battles", "batch", "policy"})
    help = '{"battles": 200, "batch": 10, "policy": "active"} — or "random" pairs'

    def validate(
        self, config: dict[str, Any], *, n: int, prompt_sets: Sequence[PromptSet], errors: Errors
    ) -> dict[str, Any]:
        policy = config.get("policy", "active")
        if policy not in ("active", "random"):
            errors["config.policy"] = [f"must be 'active' or 'random'; got {policy!r}"]
        return {
            "battles": int_option(config, "battles", 1, 100_000, 10 * n, errors),
            "batch": int_option(config, "batch", 1, 1000, max(1, n // 2), errors),
            "policy": policy,
        }

    def _remaining_battles(self, tournament: Tournament) -> int:
        played = Match.objects.filter(tournament=tournament).count()
        return int(tournament.config["battles"]) - played

    def total_rounds(self, tournament: Tournament) -> int:
        """Rounds so far plus enough rounds of ``min(batch, pairs)`` for the battles left (a
        round holds each pair of the models still in at most once)."""
        playing = sum(1 for e in field_entries(tournament) if not is_withdrawn(e))
        per_round = min(int(tournament.config["batch"]), playing * (playing - 1) // 2)
        remaining = self._remaining_battles(tournament)
        more = math.ceil(remaining / per_round) if per_round and remaining > 0 else 0
        return tournament.rounds.count() + more

    def pair(self, tournament: Tournament, number: int) -> RoundPairing:
        k = min(int(tournament.config["batch"]), self._remaining_battles(tournament))
        playing = [e for e in field_entries(tournament) if not is_withdrawn(e)]
        pairs = arena_pairs_for_tournament(tournament, entries=playing, k=k, round_number=number)
        return RoundPairing(pairs=pairs)

    def remaining(self, tournament: Tournament, entries: list[Entry]) -> Remaining:
        """The battles left, between uniformly drawn pairs of the models still in."""
        alive = [e.eliminated_in_round is None and not is_withdrawn(e) for e in entries]
        if not is_open(tournament):
            return Remaining(steps=[], survival=[], alive=alive)
        rnd, _, _ = current_round(tournament)
        index = {e.competitor_id: i for i, e in enumerate(entries)}
        steps = [
            FixedRound(pairs=unfinished_pairs(rnd, index)),
            RandomRound(k=max(0, self._remaining_battles(tournament))),
        ]
        steps = [s for s in steps if s not in (FixedRound(pairs=()), RandomRound(k=0))]
        return Remaining(steps=steps, survival=[], alive=alive)


format_register(Arena())
