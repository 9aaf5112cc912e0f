"""Swiss system: FIDE Dutch pairing or random pairing inside score groups.

``config``: ``system`` (``dutch`` or ``random``), ``rounds`` (default ``ceil(log2 N)``, at most
``N - 1``). A bye is worth one point. Pairing, scoring and tie-breaks are
:func:`ranking.pair_round`, :func:`ranking.record_round` and :func:`ranking.standings`.
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
    default_swiss_rounds,
    field_entries,
    format_register,
    int_option,
    is_open,
    unfinished_pairs,
)
from arena.models import Bye, Entry, Match, PromptSet, Round, Tournament
from clients import sim_seed
from ranking import Pairing, Scoring, SwissPlayer, SwissState, pair_round, record_round, standings
from ranking.simulate import FixedRound, ScoreRound


def _swiss_code(match: Match) -> str:
    if match.status == Match.Status.DONE:
        return {"model_a": "1", "model_b": "0"}.get(match.outcome or "", "=")
    if match.status == Match.Status.FORFEIT:
        return "-" if match.forfeit_by_id == match.competitor_a_id else "+"
    return "--"


def swiss_state_for(
    tournament: Tournament, *, bye_points: float, total_rounds: int, upto: int | None = None
) -> SwissState:
    """The :class:`ranking.SwissState` of a tournament after its complete rounds."""
    entries = field_entries(tournament)
    seed_of = {e.competitor_id: e.seed for e in entries}
    state = SwissState(
        players=tuple(
            SwissPlayer(
                number=e.seed, rating=int(round(e.initial_rating or 0)), name=e.competitor.name
            )
            for e in entries
        ),
        total_rounds=total_rounds,
        scoring=Scoring(pab=int(round(bye_points * 10))),
    )
    rounds = tournament.rounds.filter(status=Round.Status.COMPLETE).order_by("number")
    if upto is not None:
        rounds = rounds.filter(number__lte=upto)
    for rnd in rounds.prefetch_related("matches", "byes"):
        matches = sorted(rnd.matches.all(), key=lambda m: (m.board or 0, m.pk))
        byes = [seed_of[b.competitor_id] for b in rnd.byes.all() if b.kind == Bye.Kind.PAIRING]
        pairing = Pairing(
            pairs=tuple((seed_of[m.competitor_a_id], seed_of[m.competitor_b_id]) for m in matches),
            bye=byes[0] if byes else None,
        )
        state = record_round(state, pairing, [_swiss_code(m) for m in matches])
    return state


def tiebreak_standings(
    state: SwissState, rows: list[dict[str, Any]], tiebreaks: tuple[str, ...]
) -> list[dict[str, Any]]:
    """``rows`` ordered by points and FIDE ``tiebreaks`` (:func:`ranking.standings`)."""
    by_seed = {r["seed"]: r for r in rows}
    ordered = []
    for row in standings(state, tiebreaks=tiebreaks):
        target = by_seed[row.player]
        target["tiebreaks"] = {k: float(v) for k, v in row.tiebreaks.items()}
        target["rank"] = row.rank
        ordered.append(target)
    return ordered + [r for r in rows if "rank" not in r]


class Swiss(TournamentFormat):
    kind = "swiss"
    label = "Swiss system"
    options = frozenset({"system", "rounds"})
    help = '{"rounds": 5, "system": "dutch"} — "dutch" (FIDE Dutch pairing) or "random"'
    tiebreaks = ("BH-C1", "BH", "SB", "DE", "WIN")

    def validate(
        self, config: dict[str, Any], *, n: int, prompt_sets: Sequence[PromptSet], errors: Errors
    ) -> dict[str, Any]:
        system = config.get("system", "dutch")
        if system not in ("dutch", "random"):
            errors["config.system"] = [f"must be 'dutch' or 'random'; got {system!r}"]
        rounds = int_option(config, "rounds", 1, max(1, n - 1), default_swiss_rounds(n), errors)
        return {"system": system, "rounds": rounds}

    def total_rounds(self, tournament: Tournament) -> int:
        rounds = tournament.config.get("rounds")  # absent only in hand-made (seeded) rows
        return int(rounds) if rounds is not None else tournament.rounds.count()

    def state(self, tournament: Tournament) -> SwissState:
        return swiss_state_for(
            tournament, bye_points=1.0, total_rounds=self.total_rounds(tournament)
        )

    def pair(self, tournament: Tournament, number: int) -> RoundPairing:
        by_seed = {e.seed: e for e in field_entries(tournament)}
        pairing = pair_round(
            self.state(tournament),
            system=tournament.config.get("system", "dutch"),
            rng=sim_seed(tournament.seed, "swiss", number) % 2**63,
        )
        return RoundPairing(
            pairs=[(by_seed[a], by_seed[b]) for a, b in pairing.pairs],
            byes=[] if pairing.bye is None else [(by_seed[pairing.bye], 1.0)],
        )

    def standings(self, tournament: Tournament, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return tiebreak_standings(self.state(tournament), rows, self.tiebreaks)

    def round_standings(self, tournament: Tournament) -> list[dict[str, Any]]:
        """Points and FIDE tie-breaks after each complete round, as :meth:`standings` orders
        them (the final table is the last one)."""
        total = self.total_rounds(tournament)
        numbers = tournament.rounds.filter(status=Round.Status.COMPLETE).order_by("number")
        return [
            {
                "round": number,
                "standings": [
                    row.to_json()
                    for row in standings(
                        swiss_state_for(
                            tournament, bye_points=1.0, total_rounds=total, upto=number
                        ),
                        tiebreaks=self.tiebreaks,
                    )
                ],
            }
            for number in numbers.values_list("number", flat=True)
        ]

    def remaining(self, tournament: Tournament, entries: list[Entry]) -> Remaining:
        """Swiss rounds paired by score (the model's approximation of the Dutch system:
        neighbours in score order, rematches allowed) with a one-point bye."""
        alive = [True] * len(entries)
        if not is_open(tournament):
            return Remaining(steps=[], survival=[], alive=alive)
        rnd, current, _ = current_round(tournament)
        index = {e.competitor_id: i for i, e in enumerate(entries)}
        steps: list[Any] = [FixedRound(pairs=unfinished_pairs(rnd, index))]
        steps += [ScoreRound(bye_points=1.0)] * (self.total_rounds(tournament) - current)
        return Remaining(
            steps=[s for s in steps if s != FixedRound(pairs=())], survival=[], alive=alive
        )


format_register(Swiss())
