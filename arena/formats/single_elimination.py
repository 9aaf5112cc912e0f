"""Single elimination: a seeded bracket (:func:`ranking.bracket_create`).

``config``: ``third_place`` (bool; needs at least 4 entrants). A tie or a failed match
advances the higher seed. Byes of the first round carry no points in the standings, which
follow the bracket: placement once finished, the round reached while it runs.
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
    is_open,
)
from arena.models import Entry, Match, PromptSet, Round, Tournament
from ranking import BracketState, bracket_advance, bracket_create, bracket_ranking
from ranking.simulate import KnockoutRounds


def winner_of(match: Match, seeds: dict[int, int]) -> int:
    """Competitor id advancing from a bracket match (a tie or failure advances the higher seed)."""
    if match.status in (Match.Status.DONE, Match.Status.FORFEIT) and match.outcome in (
        "model_a",
        "model_b",
    ):
        return match.competitor_a_id if match.outcome == "model_a" else match.competitor_b_id
    a, b = match.competitor_a_id, match.competitor_b_id
    return a if seeds[a] < seeds[b] else b


def bracket_advancer(match: Match, seeds: dict[int, int]) -> int | None:
    """Competitor id that advanced from a bracket match, ``None`` while it is unfinished.

    The rule the engine applies (:func:`winner_of`): pages and the API show brackets with
    it, so they never disagree with the tournament itself.
    """
    if match.status not in Match.FINISHED:
        return None
    return winner_of(match, seeds)


def bracket_state_for(tournament: Tournament) -> BracketState:
    """The :class:`ranking.BracketState` of a single-elimination tournament so far."""
    entries = field_entries(tournament)
    index = {e.competitor_id: i for i, e in enumerate(entries)}
    seeds = {e.competitor_id: e.seed for e in entries}
    state = bracket_create(
        [e.competitor.name for e in entries], third_place=bool(tournament.config.get("third_place"))
    )
    for rnd in tournament.rounds.filter(status=Round.Status.COMPLETE).order_by("number"):
        matches = sorted(rnd.matches.all(), key=lambda m: (m.board or 0, m.pk))
        state = bracket_advance(state, [index[winner_of(m, seeds)] for m in matches])
    return state


class SingleElimination(TournamentFormat):
    kind = "single_elimination"
    label = "Seeded single elimination"
    page_view = "bracket"
    options = frozenset({"third_place"})
    help = '{"third_place": false} — whether the semi-final losers play for third place'

    def validate(
        self, config: dict[str, Any], *, n: int, prompt_sets: Sequence[PromptSet], errors: Errors
    ) -> dict[str, Any]:
        third = config.get("third_place", False)
        if not isinstance(third, bool):
            errors["config.third_place"] = ["must be true or false"]
        elif third and n < 4:
            errors["config.third_place"] = ["a third-place match needs at least 4 entrants"]
        return {"third_place": bool(third)}

    def total_rounds(self, tournament: Tournament) -> int:
        n = tournament.entries.filter(withdrawn=False).count()
        return max(1, math.ceil(math.log2(n)))

    def pair(self, tournament: Tournament, number: int) -> RoundPairing:
        entries = field_entries(tournament)
        state = bracket_state_for(tournament)
        byes = [(entries[a], 1.0) for a, b in state.matches[0] if b is None] if number == 1 else []
        return RoundPairing(pairs=[(entries[a], entries[b]) for a, b in state.pending()], byes=byes)

    def after_round(self, tournament: Tournament, number: int) -> None:
        """The losers leave (in the last round with a third-place match: the final's loser)."""
        seeds = {e.competitor_id: e.seed for e in field_entries(tournament)}
        rnd = tournament.rounds.get(number=number)
        third = bool(tournament.config.get("third_place")) and number == self.total_rounds(
            tournament
        )
        for k, m in enumerate(sorted(rnd.matches.all(), key=lambda m: (m.board or 0, m.pk))):
            if third and k > 0:
                continue
            winner = winner_of(m, seeds)
            loser = m.competitor_b_id if winner == m.competitor_a_id else m.competitor_a_id
            Entry.objects.filter(tournament=tournament, competitor_id=loser).update(
                eliminated_in_round=number
            )

    def advancer(self, match: Match, seeds: dict[int, int]) -> int | None:
        return bracket_advancer(match, seeds)

    def byes_score(self) -> bool:
        return False

    def standings(self, tournament: Tournament, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        state = bracket_state_for(tournament)
        if not state.finished:
            return sorted(
                rows,
                key=lambda r: (
                    r["eliminated_in_round"] is not None,
                    -(r["eliminated_in_round"] or 0),
                    r["seed"],
                ),
            )
        by_name = {r["name"]: r for r in rows}
        ordered = []
        for rank, (name, place) in enumerate(bracket_ranking(state), start=1):
            by_name[name]["place"] = place
            by_name[name]["rank"] = rank
            ordered.append(by_name[name])
        return ordered

    def remaining(self, tournament: Tournament, entries: list[Entry]) -> Remaining:
        """The rest of the bracket (a match under way keeps its known results)."""
        state = bracket_state_for(tournament)
        known: list[list[float] | None] = [
            [
                float(i in w[:1] if state.third_place and k == state.rounds - 1 else i in w)
                for i in range(len(entries))
            ]
            for k, w in enumerate(state.winners)
        ]
        alive = [e.eliminated_in_round is None for e in entries]
        if not is_open(tournament) or state.finished:
            return Remaining(steps=[], survival=known, alive=alive)
        rnd, _, complete = current_round(tournament)
        index = {e.competitor_id: i for i, e in enumerate(entries)}
        played = {}
        if rnd is not None and not complete:
            seeds = {e.competitor_id: e.seed for e in entries}
            played = {
                frozenset((index[m.competitor_a_id], index[m.competitor_b_id])): index[
                    winner_of(m, seeds)
                ]
                for m in rnd.matches.filter(status__in=Match.FINISHED)
            }
        matches = state.matches[len(state.winners)]
        step = KnockoutRounds(
            matches=matches,
            decided=tuple(played.get(frozenset(i for i in p if i is not None)) for p in matches),
            rounds=state.rounds - len(state.winners),
            third_place=state.third_place,
        )
        return Remaining(steps=[step], survival=[*known, *([None] * step.rounds)], alive=alive)

    def results_extra(self, tournament: Tournament) -> dict[str, Any]:
        state = bracket_state_for(tournament)
        champion = state.champion if state.finished else None
        return {"champion": state.names[champion] if champion is not None else None}


format_register(SingleElimination())
