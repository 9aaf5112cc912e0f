"""Per-player summaries the pairing systems share: score, colours, floats, compatibility."""

from __future__ import annotations

from dataclasses import dataclass, field

from ranking.errors import InputError, PairingError
from ranking.swiss.state import Pairing, RoundResult, SwissPlayer, SwissState


@dataclass
class Summary:
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


NONE, DOWN, UP = 0, 1, 2


def invert(c: str | None) -> str | None:
    return None if c is None else ("b" if c == "w" else "w")


def summaries(state: SwissState) -> tuple[list[Summary], int]:
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

    out: list[Summary] = []
    for rank, p in enumerate(sorted(state.players, key=lambda q: q.number)):
        if p.number in state.absent or len(p.results) > n_rounds:
            continue
        e = ent[p.number]
        s = Summary(number=p.number, rank=rank, score=score_before(p.number, n_rounds))
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
            s.pref = invert(last)
        elif s.imbalance > 0:
            s.pref = lower
        elif consecutive:
            s.pref = invert(last)
        s.repeated = last if consecutive > 1 else None
        s.strong = (not s.absolute) and s.imbalance > 0
        fl = []
        for back in (1, 2):
            if n_rounds < back:
                fl.append(NONE)
                continue
            r = n_rounds - back
            res = e[r]
            if not res.played and sc.points(res.code) > sc.loss:
                fl.append(DOWN)
                continue
            opp = res.opponent if res.opponent in ent else p.number
            mine, theirs = score_before(p.number, r), score_before(opp, r)
            fl.append(DOWN if mine > theirs else UP if mine < theirs else NONE)
        s.floats = (fl[0], fl[1])
        out.append(s)
    out.sort(key=lambda q: (-q.score, q.rank))
    for v, q in enumerate(out):
        q.vertex = v
    return out, n_rounds


def compatible(a: Summary, b: Summary, state: SwissState, n_rounds: int) -> bool:
    if b.number in a.forbidden:
        return False
    if not (a.absolute and b.absolute and a.pref == b.pref):
        return True
    if state.total_rounds is not None and n_rounds >= state.total_rounds - 1:
        threshold = n_rounds * max(state.scoring.win, state.scoring.draw) / 2
        return a.score > threshold or b.score > threshold
    return False


def _neutral_color(p: Summary, o: Summary) -> str | None:
    if p.pref is None or o.pref is None or p.pref != o.pref:
        if p.pref is not None:
            return p.pref
        return invert(o.pref)
    if p.absolute and (p.imbalance > o.imbalance or not o.absolute):
        return p.pref
    if o.absolute and (o.imbalance > p.imbalance or not p.absolute):
        return invert(o.pref)
    if p.strong and not o.strong:
        return p.pref
    if o.strong and not p.strong:
        return invert(o.pref)
    i, j = len(p.colors) - 1, len(o.colors) - 1
    while i >= 0 and j >= 0 and p.colors[i] == o.colors[j]:
        i -= 1
        j -= 1
    if i >= 0 and j >= 0:
        return o.colors[j]
    return None


def _player_color(p: Summary, o: Summary, initial: str) -> str:
    """Colour of ``p`` against ``o`` (bbpPairings' choosePlayerColor)."""
    c = _neutral_color(p, o)
    if c is not None:
        return c
    p_lower = (p.score, -p.rank) < (o.score, -o.rank)
    if p.pref is None:
        if p_lower:
            return initial if o.rank & 1 else invert(initial)  # type: ignore[return-value]
        return invert(initial) if p.rank & 1 else initial  # type: ignore[return-value]
    return invert(o.pref) if p_lower else p.pref  # type: ignore[return-value]


def bits(x: int) -> int:
    return max(int(x).bit_length(), 1)


def finish(ps: list[Summary], mate: list[int], state: SwissState) -> Pairing:
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
