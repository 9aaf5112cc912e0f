"""FIDE tie-breaks (C.07, play-off and tie-break regulations, 2023/2024 edition).

Supported codes: ``BH`` (Buchholz), ``BH-C1`` (Buchholz cut 1), ``SB``
(Sonneborn-Berger), ``DE`` (direct encounter), ``WIN`` (rounds with a win's points,
played or not), ``WON`` (games won over the board), ``ARO`` (average rating of the
opponents actually played, rounded).

Unplayed rounds, as implemented here (the 2024 rules replaced the old virtual opponent):

* A participant's own unplayed rounds (byes, forfeits, absences) count in BH and SB as a
  game against a *dummy opponent* whose score equals the participant's own final score;
  in SB the contribution is the points the participant got in that round times that
  score.
* An opponent's score, as used in someone else's BH and SB, is *adjusted*: the
  opponent's voluntary unplayed rounds (requested byes ``H F Z``, absence, forfeit
  losses) count as draws; a pairing-allocated bye and a forfeit win count with the points
  awarded.
* BH-C1 drops the least significant contribution; when contributions are equal, a
  dummy-opponent contribution is the one dropped.
* DE separates tied participants by the points they scored in the games among them, and
  only when every pair of them has met (the partial-encounter cases of C.07 leave the
  tie unresolved here).
* ARO ignores unplayed rounds and unrated (rating 0) opponents.

References
----------
FIDE Handbook C.07, Tie-Break Regulations (approved 1 August 2023, applied to all
FIDE-rated events from 1 April 2024).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from ranking.errors import InputError
from ranking.swiss import RoundResult, SwissState

TIEBREAKS: tuple[str, ...] = ("BH", "BH-C1", "SB", "DE", "WIN", "WON", "ARO")
_VOLUNTARY = frozenset("HFZ- ")


@dataclass(frozen=True)
class StandingsRow:
    """One line of the standings: ``rank``, ``player`` (pairing number), points, tie-breaks."""

    rank: int
    player: int
    name: str
    points: float
    tiebreaks: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, object]:
        """The DESIGN.md JSON row ``{"player", "points", "tiebreaks", "rank", "name"}``."""
        return {
            "rank": self.rank, "player": self.player, "name": self.name,
            "points": self.points, "tiebreaks": dict(self.tiebreaks),
        }


def _entries(state: SwissState, number: int, n: int) -> list[RoundResult]:
    res = list(state.player(number).results[:n])
    return res + [RoundResult(None, None, " ")] * (n - len(res))


def parse_tiebreaks(text: str | Sequence[str]) -> tuple[str, ...]:
    """Parse ``"BH,BH-C1,SB"`` (or a sequence) into validated upper-case codes."""
    items = [t.strip().upper() for t in (text.split(",") if isinstance(text, str) else text)]
    items = [t for t in items if t]
    for t in items:
        if t not in TIEBREAKS:
            raise InputError(f"tiebreaks: unknown code {t!r}; expected some of {', '.join(TIEBREAKS)}")
    return tuple(items)


def compute_tiebreaks(state: SwissState, *, tiebreaks: Sequence[str] = TIEBREAKS) -> dict[int, dict[str, float]]:
    """Per-player values of the non-contextual tie-breaks (everything but ``DE``).

    Returns
    -------
    dict
        ``{pairing number: {code: value}}`` for the requested codes other than ``DE``.
    """
    codes = parse_tiebreaks(tiebreaks)
    n = state.played_rounds
    sc = state.scoring
    numbers = [p.number for p in state.players]
    ent = {k: _entries(state, k, n) for k in numbers}
    pts = {k: sum(sc.points(r.code) for r in ent[k]) for k in numbers}
    adjusted = {
        k: sum(sc.draw if (not r.played and r.code in _VOLUNTARY) else sc.points(r.code) for r in ent[k])
        for k in numbers
    }
    rating = {p.number: p.rating for p in state.players}
    out: dict[int, dict[str, float]] = {}
    for k in numbers:
        contributions: list[tuple[int, int]] = []  # (value, 0 for dummy / 1 for real)
        sb = 0
        for r in ent[k]:
            got = sc.points(r.code)
            if r.played:
                assert r.opponent is not None
                contributions.append((adjusted[r.opponent], 1))
                sb += got * adjusted[r.opponent]
            else:
                contributions.append((pts[k], 0))
                sb += got * pts[k]
        row: dict[str, float] = {}
        for code in codes:
            if code == "BH":
                row[code] = sum(v for v, _ in contributions) / 10
            elif code == "BH-C1":
                kept = sorted(contributions)[1:] if contributions else []
                row[code] = sum(v for v, _ in kept) / 10
            elif code == "SB":
                row[code] = sb / 100
            elif code == "WIN":
                row[code] = float(sum(1 for r in ent[k] if sc.points(r.code) >= sc.win and sc.win > sc.draw))
            elif code == "WON":
                row[code] = float(sum(1 for r in ent[k] if r.played and r.code in "1W"))
            elif code == "ARO":
                rs = [rating[r.opponent] for r in ent[k] if r.played and r.opponent and rating[r.opponent] > 0]
                row[code] = float(int(sum(rs) / len(rs) + 0.5)) if rs else 0.0
        out[k] = row
    return out


def _direct_encounter(state: SwissState, group: list[int]) -> dict[int, float]:
    n = state.played_rounds
    sc = state.scoring
    members = set(group)
    met: set[frozenset[int]] = set()
    score = dict.fromkeys(group, 0)
    for k in group:
        for r in _entries(state, k, n):
            if r.opponent in members and r.code not in "+-":
                met.add(frozenset((k, r.opponent)))
                score[k] += sc.points(r.code)
    pairs = len(group) * (len(group) - 1) // 2
    if len(met) < pairs:
        return dict.fromkeys(group, 0.0)
    return {k: v / 10 for k, v in score.items()}


def standings(state: SwissState, *, tiebreaks: Sequence[str] | str = ("BH", "BH-C1", "SB")) -> list[StandingsRow]:
    """Rank the players by points, then by the tie-breaks in the order given.

    Players equal on points and on every tie-break share a rank; within a shared rank
    they are listed by pairing number.

    Parameters
    ----------
    state : SwissState
    tiebreaks : sequence of str or comma-separated str
        FIDE codes (see :data:`TIEBREAKS`), applied in order.
    """
    codes = parse_tiebreaks(tiebreaks)
    n = state.played_rounds
    sc = state.scoring
    values = compute_tiebreaks(state, tiebreaks=[c for c in codes if c != "DE"])
    pts = {p.number: sum(sc.points(r.code) for r in _entries(state, p.number, n)) for p in state.players}
    rows = {k: dict(values[k]) for k in pts}
    groups: list[list[int]] = [sorted(pts, key=lambda k: (-pts[k], k))]

    def split(gs: list[list[int]], key) -> list[list[int]]:  # type: ignore[no-untyped-def]
        out: list[list[int]] = []
        for g in gs:
            g = sorted(g, key=lambda k: (key(k), k))
            cur = [g[0]]
            for k in g[1:]:
                if key(k) == key(cur[-1]):
                    cur.append(k)
                else:
                    out.append(cur)
                    cur = [k]
            out.append(cur)
        return out

    groups = split(groups, lambda k: -pts[k])
    for code in codes:
        if code == "DE":
            for g in groups:
                de = _direct_encounter(state, g) if len(g) > 1 else {g[0]: 0.0}
                for k in g:
                    rows[k]["DE"] = de[k]
        groups = split(groups, lambda k, c=code: -rows[k][c])
    result: list[StandingsRow] = []
    position = 1
    for g in groups:
        for k in g:
            p = state.player(k)
            result.append(StandingsRow(rank=position, player=k, name=p.name, points=pts[k] / 10,
                                       tiebreaks={c: rows[k][c] for c in codes}))
        position += len(g)
    return result


__all__ = ["TIEBREAKS", "StandingsRow", "compute_tiebreaks", "parse_tiebreaks", "standings"]
