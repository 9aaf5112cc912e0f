"""Swiss-system tournaments: state, FIDE Dutch pairing (C.04.3) and random pairing.

A :class:`SwissState` holds the players (pairing number = start rank, rating, name) and,
per player and round, a :class:`RoundResult` in the vocabulary of the FIDE Tournament
Report File: the opponent, the colour (``"w"`` = first side shown to the judge) and the
TRF result code (``1 0 =`` played, ``W D L`` played unrated, ``+ -`` forfeits, ``U``
pairing-allocated bye, ``F H Z`` full-, half- and zero-point byes, ``" "`` absent).

``pair_round(state, system="dutch")`` pairs the next round with the FIDE Dutch system as
bbpPairings implements it: the players are sorted by score and pairing number, and the
pairing brackets are settled one after the other by maximum-weight matchings on a graph
that holds every player still to be paired (so the completion criterion is respected),
with lexicographic integer edge weights that encode, from the most significant field
down: completion and bye eligibility; the number of pairs and the scores paired in the
current bracket and the next; the unplayed games of the bye assignee (C9, 2026 rules);
the four colour criteria; repeated down- and up-floaters one and two rounds back and
their scores. The choice among equally good pairings (which moved-down players are
paired and with whom, which residents are exchanged between S1 and S2, and the order of
the S2 opponents) follows bbpPairings' sequence of finalising matchings.

Absolute criteria: no rematch of a played game (forfeited games do not count, as in
C.04.1), at most one pairing-allocated bye or other unpaid full point without playing
(a player who already has one is not eligible), no two players with the same absolute
colour preference (colour difference beyond +-1 or the same colour twice in a row),
except in the last round for players above 50 % (the topscorer exception of C.04.3).

Known deviations from bbpPairings (and hence from a full C.04.3 reading):

* Edges between moved-down players are re-weighted for the current bracket instead of
  keeping the weights of the bracket they came from.
* Field widths are fitted to each bracket and "pairs without X" criteria are stored as
  penalties, so the weights fit rustworkx's 128-bit integers; the order of the criteria
  is unchanged. The S1 players' opponents are fixed several at a time, by giving each
  player's preferences its own lexicographic sub-field, instead of one matching each.
* Above 96 players, for speed, a bracket is settled on the graph of the players from the
  current bracket down to the next score group and eight players below it (and the bye
  assignee's score is taken as the lowest score of a bye-eligible player instead of from
  a first matching of the whole field); all remaining players are used instead
  when the rest could not then be completed. bbpPairings always keeps every player in
  the graph; the two agree whenever completion does not bind (and always up to 96).
* C9 (minimise the unplayed games of the bye assignee) ranks candidates by the number of
  games they played and, as in bbpPairings, only acts in the bracket where the bye
  assignee's score group is reached with no downfloater paired below that score.
* Accelerated pairings (Baku) and forbidden-pair lists are not supported.

Checked against bbpPairings' own expected outputs: its 2025-rule examples C5 and C9 and
its issue 7 case (60 players, round 15, with forfeits), on both the whole-graph and the
restricted-graph paths. Floats of unplayed rounds follow bbpPairings: a bye or forfeit
that scored more than a loss is a downfloat; otherwise (zero-point bye, forfeit loss) the
scores are compared with the scheduled opponent, or with the player itself when there
was none. (caissify-pairings, another Dutch implementation, reads A.4 differently here;
see bench/RESULTS.md for the cross-check.)

``system="random"`` pairs at random inside score groups, odd players floating to the
next group, as the Competitive Swiss-system Dynamics method does; it honours the same
absolute criteria and bye rules.

References
----------
FIDE Handbook C.04.1 (Basic rules for Swiss systems), C.04.3 (FIDE (Dutch) System,
rules in force from 1 February 2026). bbpPairings (Bierema Boyz Programming),
``src/swisssystems/dutch.cpp``.
"""

from __future__ import annotations

import random as _random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from ranking._matching import max_weight_matching
from ranking.errors import InputError, PairingError

#: TRF result codes of games that were actually played.
PLAYED_CODES = frozenset("10=WDL")
#: Every TRF result code Ludus understands.
RESULT_CODES = frozenset("10=WDL+-UFHZ ")
#: Up to this many players to pair, every bracket is settled on the whole graph.
FULL_GRAPH_LIMIT = 96


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
        """The player with pairing number ``number``."""
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
        """bbpPairings' output: the number of pairs, then ``A B`` lines, ``X 0`` for the bye."""
        lines = [str(len(self.pairs) + (self.bye is not None))]
        lines += [f"{a} {b}" for a, b in self.pairs]
        if self.bye is not None:
            lines.append(f"{self.bye} 0")
        return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- helpers


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


def play_swiss(
    state: SwissState,
    rounds: int,
    outcome: Callable[[int, int, np.random.Generator], str],
    *,
    system: str = "dutch",
    rng: int | np.random.Generator | None = None,
) -> SwissState:
    """Play ``rounds`` more rounds, pairing with ``system`` and scoring with ``outcome``.

    ``outcome(first, second, rng)`` returns a result code of :func:`record_round`.
    """
    gen = np.random.default_rng(rng)
    for _ in range(rounds):
        pairing = pair_round(state, system=system, rng=gen)
        codes = [outcome(a, b, gen) for a, b in pairing.pairs]
        state = record_round(state, pairing, codes)
    return state


# ------------------------------------------------------------------- player summary


@dataclass
class _P:
    number: int
    rank: int
    score: int
    vertex: int = 0
    forbidden: set[int] = field(default_factory=set)
    played: int = 0
    imbalance: int = 0
    pref: str | None = None
    repeated: str | None = None
    strong: bool = False
    eligible: bool = True
    floats: tuple[int, int] = (0, 0)
    colors: list[str] = field(default_factory=list)

    @property
    def absolute(self) -> bool:
        return self.imbalance > 1 or self.repeated is not None


_NONE, _DOWN, _UP = 0, 1, 2


def _invert(c: str | None) -> str | None:
    return None if c is None else ("b" if c == "w" else "w")


def _summaries(state: SwissState) -> tuple[list[_P], int]:
    n_rounds = state.played_rounds
    sc = state.scoring
    numbers = [p.number for p in state.players]
    if len(set(numbers)) != len(numbers):
        raise InputError("players: pairing numbers must be unique")
    by_number = {p.number: p for p in state.players}

    def entries(p: SwissPlayer) -> list[RoundResult]:
        res = list(p.results[:n_rounds])
        return res + [RoundResult(None, None, " ")] * (n_rounds - len(res))

    ent = {p.number: entries(p) for p in state.players}

    def score_before(num: int, r: int) -> int:
        return sum(sc.points(e.code) for e in ent[num][:r])

    out: list[_P] = []
    for rank, p in enumerate(sorted(state.players, key=lambda q: q.number)):
        if p.number in state.absent or len(p.results) > n_rounds:
            continue
        e = ent[p.number]
        s = _P(number=p.number, rank=rank, score=score_before(p.number, n_rounds))
        white = black = consecutive = 0
        last: str | None = None
        for res in e:
            if res.played:
                assert res.opponent is not None
                if res.opponent not in by_number:
                    raise InputError(f"player {p.number}: opponent {res.opponent} is not a player")
                s.forbidden.add(res.opponent)
                s.played += 1
                s.colors.append(res.color or "w")
                if res.color == "w":
                    white += 1
                else:
                    black += 1
                consecutive = 1 if (consecutive == 0 or res.color != last) else consecutive + 1
                last = res.color
            elif sc.points(res.code) >= sc.win:
                s.eligible = False
        lower = "b" if white > black else "w"
        s.imbalance = abs(white - black)
        if s.imbalance > 1:
            s.pref = lower
        elif consecutive > 1:
            s.pref = _invert(last)
        elif s.imbalance > 0:
            s.pref = lower
        elif consecutive:
            s.pref = _invert(last)
        s.repeated = last if consecutive > 1 else None
        s.strong = (not s.absolute) and s.imbalance > 0
        fl = []
        for back in (1, 2):
            if n_rounds < back:
                fl.append(_NONE)
                continue
            r = n_rounds - back
            res = e[r]
            if not res.played and sc.points(res.code) > sc.loss:
                fl.append(_DOWN)
                continue
            opp = res.opponent if res.opponent in ent else p.number
            mine, theirs = score_before(p.number, r), score_before(opp, r)
            fl.append(_DOWN if mine > theirs else _UP if mine < theirs else _NONE)
        s.floats = (fl[0], fl[1])
        out.append(s)
    out.sort(key=lambda q: (-q.score, q.rank))
    for v, q in enumerate(out):
        q.vertex = v
    return out, n_rounds


def _compatible(a: _P, b: _P, state: SwissState, n_rounds: int) -> bool:
    if b.number in a.forbidden:
        return False
    if not (a.absolute and b.absolute and a.pref == b.pref):
        return True
    if state.total_rounds is not None and n_rounds >= state.total_rounds - 1:
        threshold = n_rounds * max(state.scoring.win, state.scoring.draw) / 2
        return a.score > threshold or b.score > threshold
    return False


def _neutral_color(p: _P, o: _P) -> str | None:
    if p.pref is None or o.pref is None or p.pref != o.pref:
        if p.pref is not None:
            return p.pref
        return _invert(o.pref)
    if p.absolute and (p.imbalance > o.imbalance or not o.absolute):
        return p.pref
    if o.absolute and (o.imbalance > p.imbalance or not p.absolute):
        return _invert(o.pref)
    if p.strong and not o.strong:
        return p.pref
    if o.strong and not p.strong:
        return _invert(o.pref)
    i, j = len(p.colors) - 1, len(o.colors) - 1
    while i >= 0 and j >= 0 and p.colors[i] == o.colors[j]:
        i -= 1
        j -= 1
    if i >= 0 and j >= 0:
        return o.colors[j]
    return None


def _player_color(p: _P, o: _P, initial: str) -> str:
    """Colour of ``p`` against ``o`` (bbpPairings' choosePlayerColor)."""
    c = _neutral_color(p, o)
    if c is not None:
        return c
    p_lower = (p.score, -p.rank) < (o.score, -o.rank)
    if p.pref is None:
        if p_lower:
            return initial if o.rank & 1 else _invert(initial)  # type: ignore[return-value]
        return _invert(initial) if p.rank & 1 else initial  # type: ignore[return-value]
    return _invert(o.pref) if p_lower else p.pref  # type: ignore[return-value]


def _bits(x: int) -> int:
    return max(int(x).bit_length(), 1)


def _finish(ps: list[_P], mate: list[int], state: SwissState) -> Pairing:
    pairs = []
    bye = None
    for v, p in enumerate(ps):
        m = mate[v]
        if m == v:
            if bye is not None:
                raise PairingError("more than one player left unpaired")
            if not p.eligible:
                raise PairingError(
                    f"no legal pairing: the bye would go to player {p.number}, who already"
                    " had a bye or a win without playing (C.04.1)"
                )
            bye = p.number
            continue
        if v < m:
            o = ps[m]
            c = _player_color(p, o, state.initial_color)
            pairs.append((p.number, o.number) if c == "w" else (o.number, p.number))
    by_num = {p.number: p for p in ps}

    def key(pair: tuple[int, int]) -> tuple[int, int, int]:
        a, b = by_num[pair[0]], by_num[pair[1]]
        hi, lo = (a, b) if (a.score, -a.rank) > (b.score, -b.rank) else (b, a)
        return (-hi.score, -lo.score, hi.rank)

    pairs.sort(key=key)
    return Pairing(pairs=tuple(pairs), bye=bye)


# ----------------------------------------------------------------------- pair_round


def pair_round(
    state: SwissState,
    *,
    system: str = "dutch",
    rng: int | np.random.Generator | None = None,
) -> Pairing:
    """Pair the next round.

    Parameters
    ----------
    state : SwissState
        Results so far; players in ``state.absent`` or with a pre-entered result for the
        next round (a requested bye) are not paired.
    system : {"dutch", "random"}
        FIDE Dutch system (C.04.3 as bbpPairings implements it) or random pairing inside
        score groups.
    rng : int or numpy Generator, optional
        Randomness for ``system="random"``.

    Returns
    -------
    Pairing
        Pairs as (first side, second side), sorted like bbpPairings' output, and the
        pairing-allocated bye (``None`` for an even field).

    Raises
    ------
    PairingError
        When no pairing satisfies the absolute criteria.
    """
    if system not in ("dutch", "random"):
        raise InputError(f"system must be 'dutch' or 'random'; got {system!r}")
    ps, n_rounds = _summaries(state)
    if not ps:
        return Pairing(pairs=())
    if system == "random":
        return _pair_random(ps, state, n_rounds, np.random.default_rng(rng))
    return _DutchPairer(ps, state, n_rounds).run()


def _pair_random(
    ps: list[_P], state: SwissState, n_rounds: int, gen: np.random.Generator
) -> Pairing:
    """Random pairing inside score groups, top down; odd or unpairable players float.

    Each group (floaters from above first, then the residents in random order) is paired
    greedily, each player with the first compatible one left; when that leaves more than
    the odd one out (or a floater) unpaired, a maximum matching with random tie-breaking
    weights pairs as many as possible, floaters first. If the last group cannot be completed with an eligible bye, the
    whole field is paired at once (:func:`_pair_random_global`).
    """
    n = len(ps)
    rnd = _random.Random(int(gen.integers(2**63)))
    compat = {}
    mate = list(range(n))
    carry: list[int] = []
    v = 0
    while v < n or len(carry) > 1:
        group = list(carry)
        if v < n:
            s = ps[v].score
            while v < n and ps[v].score == s:
                group.append(v)
                v += 1
        floaters = set(carry)
        last = v >= n
        order = list(carry) + rnd.sample(group[len(carry) :], len(group) - len(carry))
        greedy: dict[int, int] = {}
        for x in order:
            if x in greedy:
                continue
            for y in order:
                if y != x and y not in greedy and _compatible(ps[x], ps[y], state, n_rounds):
                    greedy[x], greedy[y] = y, x
                    break
        left = [x for x in group if x not in greedy]
        if (
            len(left) == len(group) % 2
            and not (set(left) & floaters)
            and (not last or not left or ps[left[0]].eligible)
        ):
            for x, y in greedy.items():
                mate[x] = y
            carry = left
            if last:
                break
            continue
        edges = []
        for a in range(len(group)):
            for b in range(a):
                x, y = group[a], group[b]
                key = (x, y)
                if key not in compat:
                    compat[key] = _compatible(ps[x], ps[y], state, n_rounds)
                if not compat[key]:
                    continue
                w = 1 << 44
                w += ((x in floaters) + (y in floaters)) << 22
                if last:
                    w += (ps[x].eligible == 0) + (ps[y].eligible == 0) << 21
                w += rnd.getrandbits(20)
                edges.append((a, b, w))
        local = max_weight_matching(len(group), edges)
        carry = [group[k] for k in range(len(group)) if local[k] == k]
        for k in range(len(group)):
            if local[k] != k:
                mate[group[k]] = group[local[k]]
        if last:
            break
    lowest = min((p.score for p in ps if p.eligible), default=None)
    if len(carry) > 1 or (carry and (not ps[carry[0]].eligible or ps[carry[0]].score != lowest)):
        return _pair_random_global(ps, state, n_rounds, rnd)
    return _finish(ps, mate, state)


def _pair_random_global(
    ps: list[_P], state: SwissState, n_rounds: int, rnd: _random.Random
) -> Pairing:
    n = len(ps)
    levels = sorted({p.score for p in ps})
    lvl = {s: i for i, s in enumerate(levels)}
    gap_bits = _bits(n * len(levels))
    lvl_bits = _bits(n * len(levels))
    edges = []
    for i in range(n):
        for j in range(i):
            a, b = ps[i], ps[j]
            if not _compatible(a, b, state, n_rounds):
                continue
            top = 1 + (not a.eligible) + (not b.eligible)
            w = top
            w = (w << lvl_bits) + lvl[a.score] + lvl[b.score]
            w = (w << gap_bits) + (len(levels) - abs(lvl[a.score] - lvl[b.score]))
            w = (w << 20) + rnd.getrandbits(20)
            edges.append((i, j, w))
    mate = max_weight_matching(n, edges)
    unpaired = [v for v in range(n) if mate[v] == v]
    if len(unpaired) > 1:
        raise PairingError("no pairing satisfies the absolute criteria (no rematch, colours)")
    return _finish(ps, mate, state)


class _DutchPairer:
    """Bracket-by-bracket port of bbpPairings' Dutch matching procedure."""

    def __init__(self, ps: list[_P], state: SwissState, n_rounds: int) -> None:
        self.ps = ps
        self.state = state
        self.n_rounds = n_rounds
        self.n = len(ps)
        n = self.n
        self.compat = [[False] * n for _ in range(n)]
        for i in range(n):
            for j in range(i):
                c = _compatible(ps[i], ps[j], state, n_rounds)
                self.compat[i][j] = self.compat[j][i] = c
        self.bye_score = 0
        self.C = np.zeros((n, n), dtype=np.int64)
        self.special = np.zeros((n, n), dtype=bool)
        self.wcache: dict[tuple[int, int], int] = {}
        self.c9 = False
        self.played_rank: dict[int, int] = {}
        self.removed = [False] * n
        self.K = 0
        self.low: dict[tuple[int, int], int] = {}
        self.dead: set[tuple[int, int]] = set()
        self.scope_all = n <= FULL_GRAPH_LIMIT

    # -- weights -----------------------------------------------------------------
    def _cand(self, p: _P) -> bool:
        return p.eligible and p.score <= self.bye_score

    def comp(self, u: int, v: int) -> int:
        if not self.compat[u][v]:
            return 0
        a, b = self.ps[u], self.ps[v]
        return 1 + (not self._cand(a)) + (not self._cand(b))

    def weight(self, u: int, v: int) -> int:
        key = (u, v) if u < v else (v, u)
        if key in self.dead:
            return 0
        c = self.comp(u, v)
        if not c:
            return 0
        return (c << self.K) + self.low.get(key, 0)

    def solve(self, scope: list[int]) -> list[int]:
        sc = np.asarray(scope, dtype=np.int64)
        pos = {v: k for k, v in enumerate(scope)}
        sub = np.tril(self.C[np.ix_(sc, sc)] * ~self.special[np.ix_(sc, sc)], -1)
        ii, jj = np.nonzero(sub)
        shifted = [0, 1 << self.K, 2 << self.K, 3 << self.K]
        edges = [
            (a, b, shifted[c]) for a, b, c in zip(ii.tolist(), jj.tolist(), sub[ii, jj].tolist())
        ]
        edges.extend(
            (pos[hv], pos[lv], w)
            for (hv, lv), w in self.wcache.items()
            if w > 0 and hv in pos and lv in pos
        )
        local = max_weight_matching(len(scope), edges)
        mate = list(range(self.n))
        for k, v in enumerate(scope):
            mate[v] = scope[local[k]]
        return mate

    # -- main ---------------------------------------------------------------------
    def run(self) -> Pairing:
        ps, n = self.ps, self.n
        levels = sorted({p.score for p in ps})
        lvl = {s: i for i, s in enumerate(levels)}
        lb = _bits(2 * n * len(levels))
        if n > FULL_GRAPH_LIMIT:  # cheap stand-in for the first matching (see docstring)
            low = min((p.score for p in ps if p.eligible), default=ps[-1].score)
            cands = [v for v in range(n) if ps[v].eligible and ps[v].score == low]
            mate0 = list(range(n))
            if not n & 1 or not cands:
                cands = []
            keep = set(cands[-1:])
            rest = [v for v in range(n) if v not in keep]
            for a, b in zip(rest[0::2], rest[1::2]):
                mate0[a], mate0[b] = b, a
        else:
            edges = []
            for i in range(n):
                for j in range(i):
                    if self.compat[i][j]:
                        top = 1 + (not ps[i].eligible) + (not ps[j].eligible)
                        edges.append((i, j, (top << lb) + lvl[ps[i].score] + lvl[ps[j].score]))
            mate0 = max_weight_matching(n, edges)
        if sum(1 for v in range(n) if mate0[v] == v) > 1:
            raise PairingError(
                "no pairing satisfies the absolute criteria (no rematch, colours, byes)"
            )
        if n & 1:
            bye_v = next(v for v in range(n) if mate0[v] == v)
            self.bye_score = ps[bye_v].score
            top = ps[0].score
            if self.bye_score >= top:
                self.c9 = all(ps[mate0[v]].score >= top for v in range(n) if ps[v].score >= top)
            counts = sorted({p.played for p in ps if p.score == self.bye_score}, reverse=True)
            self.played_rank = {c: r for r, c in enumerate(counts)}
        for i in range(n):
            for j in range(i):
                self.C[i, j] = self.C[j, i] = self.comp(i, j)
        return self._brackets()

    def _layout(self, pbi: list[int], sg_begin: int, nsg_begin: int) -> None:
        """Field widths for this bracket, as narrow as the bracket allows.

        Every criterion is a count; a field is given just enough bits for the largest
        total it can reach in this bracket (zero when it cannot vary), so the weights of
        typical brackets stay below rustworkx's 128-bit limit. Criteria whose natural
        form is "maximise pairs without X" are stored as penalties (minus X), which is
        equivalent once the number of pairs is fixed by the more significant fields.
        """
        ps = self.ps
        cur = [ps[v] for v in pbi[:nsg_begin]]
        allp = [ps[v] for v in pbi]
        size = len(pbi)
        self.w = _bits(size)

        def shifts_of(counts: dict[int, int]) -> tuple[dict[int, int], int]:
            sh: dict[int, int] = {}
            total = 0
            for s in sorted(counts):
                if counts[s] > 0:
                    sh[s] = total
                    total += _bits(counts[s])
            return sh, total

        cnt_cur: dict[int, int] = {}
        for p in cur:
            cnt_cur[p.score] = cnt_cur.get(p.score, 0) + 1
        cnt_all: dict[int, int] = {}
        for p in allp:
            cnt_all[p.score] = cnt_all.get(p.score, 0) + 1
        self.wp = _bits(len(cur) // 2)
        self.sh_cur, self.sgw_cur = shifts_of(cnt_cur)
        self.wn = _bits(size // 2)
        self.sh_all, self.sgw_all = shifts_of(cnt_all)
        self.c9w = _bits(size * (max(self.played_rank.values(), default=0) + 1)) if self.c9 else 0
        imb2 = sum(1 for p in cur if p.imbalance > 1)
        absolute = sum(1 for p in cur if p.absolute)
        prefd = sum(1 for p in cur if p.pref is not None)
        strong = sum(1 for p in cur if p.strong or p.absolute)
        self.cw = [
            _bits(imb2 // 2) if imb2 > 1 else 0,
            _bits(absolute // 2) if absolute > 1 else 0,
            _bits(prefd // 2) if prefd > 1 else 0,
            _bits(strong // 2) if strong > 1 else 0,
        ]
        self.fw: list[tuple[int, int, dict[int, int], int, dict[int, int], int]] = []
        for back in range(2):
            if self.n_rounds <= back:
                continue
            downs = [p for p in cur if p.floats[back] == _DOWN]
            ups = [p for p in cur if p.floats[back] == _UP]
            dcount: dict[int, int] = {}
            for p in downs:
                dcount[p.score] = dcount.get(p.score, 0) + 1
            dsh, dw = shifts_of(dcount)
            ucount = {s: len(ups) for s in cnt_cur} if ups else {}
            ush, uw = shifts_of(ucount)
            self.fw.append(
                (_bits(len(downs)) if downs else 0, _bits(len(ups)) if ups else 0, dsh, dw, ush, uw)
            )
        total = self.wp + self.sgw_cur + self.wn + self.sgw_all + self.c9w + sum(self.cw)
        total += sum(f[0] + f[1] + f[3] + f[5] for f in self.fw)
        step = self.w + 1
        self.room = max(1, (116 - total) // step)
        self.reserve = max(3 * self.w + 1, self.room * step)
        self.K = total + self.reserve + 2

    def _base(self, hv: int, lv: int, cur: bool, nxt: bool) -> int:
        """Low part of bbpPairings' computeEdgeWeight (everything below completion)."""
        ps = self.ps
        h, lo = ps[hv], ps[lv]
        r = int(cur)
        r <<= self.sgw_cur
        if cur:
            r |= 1 << self.sh_cur[h.score]
        r = (r << self.wn) | int(nxt)
        r <<= self.sgw_all
        if nxt:
            r |= 1 << self.sh_all[h.score]
        r <<= self.c9w
        if self.c9w:
            if h.score == self.bye_score:
                r += self.played_rank.get(h.played, 0)
            if lo.score == self.bye_score:
                r += self.played_rank.get(lo.played, 0)
        p, o = lo, h
        if p.imbalance == o.imbalance:
            rep_ok = p.repeated is None or p.repeated != o.repeated
        else:
            rep_ok = (o if p.imbalance > o.imbalance else p).repeated != _invert(p.pref)
        same = p.pref is not None and p.pref == o.pref
        penalties = (
            same and p.imbalance > 1 and o.imbalance > 1,
            same and p.absolute and o.absolute and not rep_ok,
            same,
            same
            and (p.strong or p.absolute)
            and (o.strong or o.absolute)
            and not (p.absolute and o.absolute),
        )
        for width, bad in zip(self.cw, penalties):
            r <<= width
            if width and cur and bad:
                r -= 1
        for back, (dw1, uw1, _, _, _, _) in enumerate(self.fw):
            r <<= dw1
            if dw1 and cur:
                r += int(lo.floats[back] == _DOWN)
                r += int(h.score <= lo.score and h.floats[back] == _DOWN)
            r <<= uw1
            if uw1 and cur and h.score > lo.score and lo.floats[back] == _UP:
                r -= 1
        for back, (_, _, dsh, dw, ush, uw) in enumerate(self.fw):
            r <<= dw
            if dw and cur:
                if lo.floats[back] == _DOWN:
                    r += 1 << dsh[lo.score]
                if h.floats[back] == _DOWN:
                    r += 1 << dsh[h.score]
            r <<= uw
            if uw and cur and lo.floats[back] == _UP and h.score > lo.score:
                r -= 1 << ush[h.score]
        r <<= self.reserve
        return r

    def _brackets(self) -> Pairing:
        ps, n = self.ps, self.n
        mate_final = list(range(n))
        pbi: list[int] = []
        nxt_it = 0
        while nxt_it < n and ps[nxt_it].score >= ps[0].score:
            pbi.append(nxt_it)
            nxt_it += 1
        sg_begin = 0
        matched = [False] * n
        while len(pbi) > 1 or nxt_it < n:
            nsg_begin = len(pbi)
            sg_begin_v = pbi[sg_begin] if sg_begin < len(pbi) else n
            nsg_begin_v = nxt_it
            if nxt_it < n:
                s = ps[nxt_it].score
                while nxt_it < n and ps[nxt_it].score >= s:
                    pbi.append(nxt_it)
                    nxt_it += 1
            self._layout(pbi, sg_begin, nsg_begin)
            bew: dict[tuple[int, int], int | None] = {}
            self.low = {}
            self.dead = set()
            for li in range(1, len(pbi)):
                for si in range(li):
                    lv, hv = pbi[li], pbi[si]
                    if self.comp(hv, lv):
                        low = self._base(hv, lv, li < nsg_begin, li >= nsg_begin)
                        bew[(si, li)] = low
                        self.low[(hv, lv)] = low
                    else:
                        bew[(si, li)] = None
            pbi_arr = np.asarray(pbi, dtype=np.int64)
            self.special[:] = False
            self.special[np.ix_(pbi_arr, pbi_arr)] = True
            self.wcache = {
                (pbi[si], pbi[li]): self.weight(pbi[si], pbi[li])
                for li in range(len(pbi))
                for si in range(li)
            }
            remaining = [v for v in range(n) if not self.removed[v]]
            lim = n if self.scope_all else self._scope_end(nxt_it)
            scope = [v for v in remaining if v < lim]

            def ew(si: int, li: int) -> int | None:
                return bew[(si, li)]  # noqa: B023 (used within this iteration only)

            def setw(si: int, li: int, value: int | None) -> None:
                hv, lv = pbi[si], pbi[li]  # noqa: B023
                if value is None:
                    self.dead.add((hv, lv))
                    self.low.pop((hv, lv), None)
                else:
                    self.dead.discard((hv, lv))
                    self.low[(hv, lv)] = value
                self.wcache[(hv, lv)] = self.weight(hv, lv)

            def ewc(si: int, li: int, s_rem: int, rem_pairs: int) -> int | None:
                r = ew(si, li)
                if r is not None:
                    add = (int(s_rem < rem_pairs) << (2 * self.w)) - s_rem
                    r += add << 1
                return r

            mate = self.solve(scope)
            if not self.scope_all and not self._completable(mate, scope, remaining):
                self.scope_all = True
                scope = remaining
                mate = self.solve(scope)
            # moved-down players to pair in this bracket
            md_score = None
            rem_md = rem_md_matched = 0
            for pi in range(sg_begin):
                if pi == 0 or ps[pbi[pi]].score < md_score:  # type: ignore[operator]
                    md_score = ps[pbi[pi]].score
                    rem_md = rem_md_matched = 0
                    k = pi
                    while k < sg_begin and ps[pbi[k]].score >= md_score:
                        rem_md += 1
                        if sg_begin_v <= mate[pbi[k]] < nsg_begin_v:
                            rem_md_matched += 1
                        k += 1
                if not rem_md_matched:
                    continue
                pv = pbi[pi]
                if rem_md <= rem_md_matched:
                    matched[pv] = True
                    continue
                rem_md -= 1
                if not (sg_begin_v <= mate[pv] < nsg_begin_v):
                    for oi in range(sg_begin, nsg_begin):
                        e = ew(pi, oi)
                        if e is not None:
                            setw(pi, oi, e + 1)
                    mate = self.solve(scope)
                if sg_begin_v <= mate[pv] < nsg_begin_v:
                    matched[pv] = True
                    rem_md_matched -= 1
                    for oi in range(sg_begin, nsg_begin):
                        e = ew(pi, oi)
                        if e is not None:
                            setw(pi, oi, e + (nsg_begin - sg_begin) + 1)
            # opponents of the moved-down players
            for pi in range(sg_begin):
                pv = pbi[pi]
                if not matched[pv]:
                    continue
                add = len(pbi)
                for oi in range(nsg_begin - 1, sg_begin - 1, -1):
                    ov = pbi[oi]
                    if matched[ov]:
                        continue
                    e = ew(pi, oi)
                    if e is not None:
                        setw(pi, oi, e + add)
                        add += 1
                mate = self.solve(scope)
                mv = mate[pv]
                matched[mv] = True
                self._finalize(pv, mv, mate_final)
                scope = [v for v in scope if v not in (pv, mv)]
            # remainder
            remainder = []
            rem_pairs = 0
            for pi in range(sg_begin, nsg_begin):
                pv = pbi[pi]
                if self.removed[pv] or mate[pv] < sg_begin_v:
                    continue
                remainder.append(pi)
                if mate[pv] < pv:
                    rem_pairs += 1
            for a in range(len(remainder)):
                for b in range(a + 1, len(remainder)):
                    setw(remainder[a], remainder[b], ewc(remainder[a], remainder[b], a, rem_pairs))
            mate = self.solve(scope)

            def head(pv: int) -> bool:
                return pv < mate[pv] < nsg_begin_v  # noqa: B023

            exchange_count = sum(1 for pi in remainder[:rem_pairs] if not head(pbi[pi]))
            left = exchange_count
            k = rem_pairs
            while k > 0 and left:
                k -= 1
                pi = remainder[k]
                pv = pbi[pi]
                if head(pv):
                    for oi in remainder[k + 1 :]:
                        e = ewc(pi, oi, k, rem_pairs)
                        if e is not None:
                            setw(pi, oi, e - 1)
                    mate = self.solve(scope)
                exch = not head(pv)
                left -= int(exch)
                for oi in remainder[k + 1 :]:
                    if exch:
                        bew[(pi, oi)] = None
                    setw(pi, oi, ewc(pi, oi, k, rem_pairs))
            left = exchange_count
            k = rem_pairs
            while k < len(remainder) and left > 1:
                pi = remainder[k]
                pv = pbi[pi]
                already = head(pv)
                if not already:
                    for oi in remainder[k + 1 :]:
                        e = ewc(pi, oi, k, rem_pairs)
                        if e is not None:
                            setw(pi, oi, e + 1)
                    mate = self.solve(scope)
                if head(pv):
                    left -= 1
                    for oi in remainder[:k]:
                        bew[(oi, pi)] = None
                        setw(oi, pi, None)
                    for oi in range(nsg_begin, len(pbi)):
                        bew[(pi, oi)] = None
                        setw(pi, oi, None)
                if not already:
                    for oi in remainder[k + 1 :]:
                        setw(pi, oi, ewc(pi, oi, k, rem_pairs))
                k += 1
            for a in range(len(remainder)):
                pa = remainder[a]
                pv = pbi[pa]
                for b in range(a + 1, len(remainder)):
                    pb = remainder[b]
                    ov = pbi[pb]
                    if (not head(pv)) or head(ov):
                        bew[(pa, pb)] = None
                    setw(pa, pb, ew(pa, pb))
            heads = [pi for pi in remainder if not self.removed[pbi[pi]] and head(pbi[pi])]
            step = self.w + 1
            room = self.room
            while heads:
                chunk, heads = heads[:room], heads[room:]
                saved: list[tuple[int, int]] = []
                for j, pi in enumerate(chunk):
                    shift = (len(chunk) - 1 - j) * step
                    add = 0
                    for oi in reversed(remainder):
                        ov = pbi[oi]
                        if oi <= pi or matched[ov]:
                            continue
                        e = ew(pi, oi)
                        if e is not None:
                            setw(pi, oi, e + (add << shift))
                            saved.append((pi, oi))
                        add += 1
                mate = self.solve(scope)
                for pi in chunk:
                    pv = pbi[pi]
                    mv = mate[pv]
                    matched[pv] = matched[mv] = True
                    self._finalize(pv, mv, mate_final)
                    scope = [v for v in scope if v not in (pv, mv)]
                for pi, oi in saved:
                    if not self.removed[pbi[oi]]:
                        setw(pi, oi, ew(pi, oi))
            # next bracket
            new_pbi = []
            sg_begin = 0
            self.c9 = (
                bool(n & 1) and nsg_begin < len(pbi) and ps[pbi[nsg_begin]].score == self.bye_score
            )
            for k2, pv in enumerate(pbi):
                if k2 < nsg_begin and matched[pv]:
                    continue
                else:
                    new_pbi.append(pv)
                    if k2 < nsg_begin:
                        sg_begin += 1
                    if ps[mate[pv]].score < self.bye_score:
                        self.c9 = False
            pbi = new_pbi
            self.dead = {e for e in self.dead if not (self.removed[e[0]] or self.removed[e[1]])}
        return _finish(ps, mate_final, self.state)

    def _finalize(self, a: int, b: int, mate_final: list[int]) -> None:
        if a == b:
            raise PairingError("internal: a bracket player could not be paired")
        self.removed[a] = self.removed[b] = True
        mate_final[a], mate_final[b] = b, a

    def _scope_end(self, nxt_it: int) -> int:
        return min(self.n, nxt_it + 8)

    def _completable(self, mate: list[int], scope: list[int], remaining: list[int]) -> bool:
        inscope = set(scope)
        rest = [v for v in remaining if v not in inscope]
        if not rest:
            return True
        free = [v for v in scope if mate[v] == v] + rest
        edges = []
        for a in range(len(free)):
            for b in range(a):
                if self.compat[free[a]][free[b]]:
                    edges.append((a, b, 1))
        m = max_weight_matching(len(free), edges)
        return sum(1 for k in range(len(free)) if m[k] == k) <= (len(free) & 1)
