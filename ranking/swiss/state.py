"""Swiss-system state: players, results per round in TRF vocabulary, and pairings.

A :class:`SwissState` holds the players (pairing number = start rank, rating, name) and,
per player and round, a :class:`RoundResult` in the vocabulary of the FIDE Tournament
Report File: the opponent, the colour (``"w"`` = first side shown to the judge) and the
TRF result code (``1 0 =`` played, ``W D L`` played unrated, ``+ -`` forfeits, ``U``
pairing-allocated bye, ``F H Z`` full-, half- and zero-point byes, ``" "`` absent).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from ranking.errors import InputError

#: TRF result codes of games that were actually played.
PLAYED_CODES = frozenset("10=WDL")
#: Every TRF result code Ludus understands.
RESULT_CODES = frozenset("10=WDL+-UFHZ ")


@dataclass(frozen=True)
class Scoring:
    """Points per result, in tenths of a point (TRF ``XXS``), defaults 1 / ½ / 0."""

    win: int = 10
    draw: int = 5
    loss: int = 0
    forfeit_win: int = 10
    forfeit_loss: int = 0
    pab: int = 10
    fpb: int = 10
    hpb: int = 5
    zpb: int = 0
    absent: int = 0

    def points(self, code: str) -> int:
        """Points (tenths) of one TRF result code."""
        return {
            "1": self.win,
            "W": self.win,
            "=": self.draw,
            "D": self.draw,
            "0": self.loss,
            "L": self.loss,
            "+": self.forfeit_win,
            "-": self.forfeit_loss,
            "U": self.pab,
            "F": self.fpb,
            "H": self.hpb,
            "Z": self.zpb,
            " ": self.absent,
        }[code]


@dataclass(frozen=True)
class RoundResult:
    """One player's entry for one round.

    Attributes
    ----------
    opponent : int or None
        Opponent's pairing number, ``None`` for byes and absences.
    color : {"w", "b"} or None
        Side played (``"w"`` = first side), ``None`` when no game was scheduled.
    code : str
        TRF result code (see the module docstring).
    """

    opponent: int | None
    color: str | None
    code: str

    @property
    def played(self) -> bool:
        """Whether the game was played over the board (not a forfeit or a bye)."""
        return self.opponent is not None and self.code in PLAYED_CODES

    @property
    def participated(self) -> bool:
        """Whether the player took part in this round's pairing (bbpPairings' rule)."""
        return self.opponent is not None or self.code in "U+"


@dataclass(frozen=True)
class SwissPlayer:
    """A participant: pairing ``number`` (start rank, 1-based), rating, name, results."""

    number: int
    rating: int = 0
    name: str = ""
    results: tuple[RoundResult, ...] = ()


@dataclass(frozen=True)
class SwissState:
    """A Swiss tournament after some rounds.

    Attributes
    ----------
    players : tuple of SwissPlayer
        Ordered by pairing number.
    total_rounds : int or None
        Planned number of rounds (TRF ``XXR``); ``None`` if unknown (no last-round rules).
    scoring : Scoring
        Points per result (TRF ``XXS``).
    initial_color : {"w", "b"}
        Colour of the first-ranked player in round 1 (TRF ``XXC white1`` / ``black1``).
    absent : frozenset of int
        Pairing numbers not to be paired in the next round (TRF ``XXZ``).
    """

    players: tuple[SwissPlayer, ...]
    total_rounds: int | None = None
    scoring: Scoring = field(default_factory=Scoring)
    initial_color: str = "w"
    absent: frozenset[int] = frozenset()

    @property
    def played_rounds(self) -> int:
        """Rounds already paired: the last round any player took part in a pairing."""
        last = 0
        for p in self.players:
            for r, res in enumerate(p.results):
                if res.participated:
                    last = max(last, r + 1)
        return last

    def player(self, number: int) -> SwissPlayer:
        """Return the player with pairing number ``number``."""
        for p in self.players:
            if p.number == number:
                return p
        raise InputError(f"no player with pairing number {number}")

    def points(self, number: int, *, rounds: int | None = None) -> float:
        """Score of a player after ``rounds`` rounds (all played rounds by default)."""
        return self._points10(self.player(number), rounds) / 10

    def _points10(self, p: SwissPlayer, rounds: int | None = None) -> int:
        n = self.played_rounds if rounds is None else rounds
        return sum(self.scoring.points(res.code) for res in p.results[:n])


@dataclass(frozen=True)
class Pairing:
    """The pairing of one round: ``pairs`` of (first side, second side) and the ``bye``."""

    pairs: tuple[tuple[int, int], ...]
    bye: int | None = None

    def to_text(self) -> str:
        """Return bbpPairings' output: the number of pairs, ``A B`` lines, ``X 0`` for a bye."""
        lines = [str(len(self.pairs) + (self.bye is not None))]
        lines += [f"{a} {b}" for a, b in self.pairs]
        if self.bye is not None:
            lines.append(f"{self.bye} 0")
        return "\n".join(lines) + "\n"


def swiss_from_ratings(
    ratings: Mapping[str, float] | Sequence[float],
    *,
    total_rounds: int | None = None,
    scoring: Scoring | None = None,
) -> SwissState:
    """Start a Swiss field ordered by rating (best first gets pairing number 1).

    Parameters
    ----------
    ratings : mapping name -> rating, or sequence of ratings
        Ludus ratings; ties keep the input order.
    total_rounds : int, optional
        Planned number of rounds.
    scoring : Scoring, optional
        Points per result.
    """
    if isinstance(ratings, Mapping):
        items = [(str(k), float(v)) for k, v in ratings.items()]
    else:
        items = [(f"player{i + 1}", float(v)) for i, v in enumerate(ratings)]
    if not items:
        raise InputError("ratings: at least one player is required")
    order = sorted(range(len(items)), key=lambda i: -items[i][1])
    players = tuple(
        SwissPlayer(number=k + 1, rating=int(round(items[i][1])), name=items[i][0])
        for k, i in enumerate(order)
    )
    return SwissState(players=players, total_rounds=total_rounds, scoring=scoring or Scoring())


def record_round(
    state: SwissState,
    pairing: Pairing,
    results: Sequence[str],
) -> SwissState:
    """Return a new state with one more round.

    Players in neither a pair nor the bye, and without a pre-entered result for the
    round (a requested bye), are recorded as absent (zero-point bye, ``Z``).

    Parameters
    ----------
    state : SwissState
    pairing : Pairing
        The round's pairing.
    results : sequence of str
        One code per pair, from the first side's point of view: ``"1"``, ``"0"``,
        ``"="`` (played), ``"+"`` / ``"-"`` (forfeit win / loss for the first side),
        ``"--"`` (double forfeit).
    """
    if len(results) != len(pairing.pairs):
        raise InputError(f"results: expected {len(pairing.pairs)} codes, got {len(results)}")
    rnd = state.played_rounds
    entries: dict[int, RoundResult] = {}
    flip = {"1": "0", "0": "1", "=": "=", "+": "-", "-": "+"}
    for (a, b), code in zip(pairing.pairs, results):
        if code == "--":
            entries[a] = RoundResult(b, "w", "-")
            entries[b] = RoundResult(a, "b", "-")
            continue
        if code not in flip:
            raise InputError(f"results: code must be one of 1, 0, =, +, -, --; got {code!r}")
        entries[a] = RoundResult(b, "w", code)
        entries[b] = RoundResult(a, "b", flip[code])
    if pairing.bye is not None:
        entries[pairing.bye] = RoundResult(None, None, "U")
    players = []
    for p in state.players:
        res = list(p.results[:rnd])
        res += [RoundResult(None, None, " ")] * (rnd - len(res))
        if p.number in entries:
            res.append(entries[p.number])
        elif len(p.results) > rnd:  # a pre-entered bye or absence for this round
            res.append(p.results[rnd])
        else:
            res.append(RoundResult(None, None, "Z"))
        players.append(replace(p, results=tuple(res)))
    return replace(state, players=tuple(players), absent=frozenset())
