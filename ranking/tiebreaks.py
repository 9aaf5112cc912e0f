"""FIDE tie-breaks (C.07, play-off and tie-break regulations, 2023/2024 edition).

Supported codes: ``BH`` (Buchholz), ``BH-C1`` (Buchholz cut 1), ``SB``
(Sonneborn-Berger), ``DE`` (direct encounter), ``WIN`` (rounds with a win's points,
played or not), ``WON`` (games won over the board), ``ARO`` (average rating of the
opponents actually played, rounded).

Unplayed rounds follow C.07 article 16 as the FIDE Technical Commission's reference
implementation (TEC-FIDE TieBreakServer, ``tiebreak.py``) computes them:

* A *voluntary unplayed round* (VUR) is an unplayed round that did not bring a win's
  points: half- and zero-point byes, absences and forfeit losses. Pairing-allocated and
  full-point byes and forfeit wins are not VURs.
* A participant's own unplayed rounds (byes, forfeits, absences) count in BH and SB as a
  game against a *dummy opponent* whose score is the participant's own final score; in SB
  the contribution is the points the participant got in that round times that score.
* An opponent's score, as used in someone else's BH and SB, is *adjusted*: the
  opponent's VURs without an opponent that come after their last round that was not a
  VUR (a withdrawal) count as draws; every other round counts with the points awarded.
* BH-C1 drops a VUR contribution if the participant has one, otherwise the least
  significant contribution.
* DE uses the points scored in the games (not forfeits) among the tied participants.
  When all of them have met, they are ordered by those points; otherwise a participant
  is placed above the rest only if those points exceed the most any participant below
  could reach by winning every game not played among them (C.07 article 6.2), and the
  procedure is repeated inside groups that remain tied.
* ARO ignores unplayed rounds and unrated (rating 0) opponents and rounds half up.

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


@dataclass(frozen=True)
class StandingsRow:
    """One line of the standings: ``rank``, ``player`` (pairing number), points, tie-breaks."""

    rank: int
    player: int
    name: str
    points: float
    tiebreaks: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, object]:
        """Return the DESIGN.md JSON row ``{"player", "points", "tiebreaks", "rank", "name"}``."""
        return {
            "rank": self.rank,
            "player": self.player,
            "name": self.name,
            "points": self.points,
            "tiebreaks": dict(self.tiebreaks),
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
            raise InputError(
                f"tiebreaks: unknown code {t!r}; expected some of {', '.join(TIEBREAKS)}"
            )
    return tuple(items)


def compute_tiebreaks(
    state: SwissState, *, tiebreaks: Sequence[str] = TIEBREAKS
) -> dict[int, dict[str, float]]:
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

    def vur(r: RoundResult) -> bool:
        return not r.played and sc.points(r.code) < sc.win

    def adjusted_score(k: int) -> int:
        last = max((i for i, r in enumerate(ent[k]) if not vur(r)), default=-1)
        return sum(
            sc.points(r.code) if (i <= last or r.opponent is not None) else sc.draw
            for i, r in enumerate(ent[k])
        )

    adjusted = {k: adjusted_score(k) for k in numbers}
    rating = {p.number: p.rating for p in state.players}
    out: dict[int, dict[str, float]] = {}
    for k in numbers:
        contributions: list[tuple[int, int]] = []  # (0 for a VUR else 1, value)
        sb = 0
        for r in ent[k]:
            got = sc.points(r.code)
            if r.played:
                assert r.opponent is not None
                contributions.append((1, adjusted[r.opponent]))
                sb += got * adjusted[r.opponent]
            else:
                contributions.append((0 if vur(r) else 1, pts[k]))
                sb += got * pts[k]
        row: dict[str, float] = {}
        for code in codes:
            if code == "BH":
                row[code] = sum(v for _, v in contributions) / 10
            elif code == "BH-C1":
                kept = sorted(contributions)[1:] if contributions else []
                row[code] = sum(v for _, v in kept) / 10
            elif code == "SB":
                row[code] = sb / 100
            elif code == "WIN":
                row[code] = float(
                    sum(1 for r in ent[k] if sc.points(r.code) >= sc.win and sc.win > sc.draw)
                )
            elif code == "WON":
                row[code] = float(sum(1 for r in ent[k] if r.played and r.code in "1W"))
            elif code == "ARO":
                rs = [
                    rating[r.opponent]
                    for r in ent[k]
                    if r.played and r.opponent and rating[r.opponent] > 0
                ]
                row[code] = float(int(sum(rs) / len(rs) + 0.5)) if rs else 0.0
        out[k] = row
    return out


def _direct_encounter(
    state: SwissState, group: list[int]
) -> tuple[dict[int, float], dict[int, int]]:
    """DE points among ``group`` and a DE rank (smaller is better) per C.07 article 6."""
    n = state.played_rounds
    sc = state.scoring
    ent = {k: _entries(state, k, n) for k in group}
    points: dict[int, float] = {}
    rank: dict[int, int] = dict.fromkeys(group, 0)

    def one_pass(members: list[int]) -> dict[int, int]:
        inside = set(members)
        de: dict[int, int] = {}
        demax: dict[int, int] = {}
        met_all = True
        for k in members:
            per_opp: dict[int, list[int]] = {}
            for r in ent[k]:
                if r.played and r.opponent in inside:
                    per_opp.setdefault(r.opponent, []).append(sc.points(r.code))
            de[k] = sum(int(round(sum(v) / len(v))) for v in per_opp.values())
            missing = len(members) - 1 - len(per_opp)
            if missing > 0:
                met_all = False
            demax[k] = de[k] + max(missing, 0) * sc.win
        order = sorted(members, key=lambda k: (-de[k], -demax[k], k))
        result: dict[int, int] = {}
        if met_all:
            current = 0
            for i, k in enumerate(order):
                if i and de[k] != de[order[i - 1]]:
                    current = i
                result[k] = current
            return result
        current = 0
        unique = True
        result[order[0]] = 0
        for i in range(1, len(order)):
            rest_max = max(demax[k] for k in order[i:])
            if unique and de[order[i - 1]] > rest_max:
                current = i
            else:
                unique = False
            result[order[i]] = current
        return result

    def resolve(members: list[int], base: int) -> None:
        local = one_pass(members)
        groups: dict[int, list[int]] = {}
        for k in members:
            groups.setdefault(local[k], []).append(k)
        for offset, sub in groups.items():
            for k in sub:
                rank[k] = base + offset
            if 1 < len(sub) < len(members):
                resolve(sub, base + offset)

    inside_all = set(group)
    for k in group:
        points[k] = (
            sum(sc.points(r.code) for r in ent[k] if r.played and r.opponent in inside_all) / 10
        )
    if len(group) > 1:
        resolve(group, 0)
    return points, rank


def standings(
    state: SwissState, *, tiebreaks: Sequence[str] | str = ("BH", "BH-C1", "SB")
) -> list[StandingsRow]:
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
    pts = {
        p.number: sum(sc.points(r.code) for r in _entries(state, p.number, n))
        for p in state.players
    }
    rows = {k: dict(values[k]) for k in pts}
    de_rank: dict[int, int] = dict.fromkeys(pts, 0)
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
                de_points, de_ranks = _direct_encounter(state, g)
                for k in g:
                    rows[k]["DE"] = de_points[k]
                    de_rank[k] = de_ranks[k]
            groups = split(groups, lambda k: de_rank[k])
            continue
        groups = split(groups, lambda k, c=code: -rows[k][c])
    result: list[StandingsRow] = []
    position = 1
    for g in groups:
        for k in g:
            p = state.player(k)
            result.append(
                StandingsRow(
                    rank=position,
                    player=k,
                    name=p.name,
                    points=pts[k] / 10,
                    tiebreaks={c: rows[k][c] for c in codes},
                )
            )
        position += len(g)
    return result


__all__ = ["TIEBREAKS", "StandingsRow", "compute_tiebreaks", "parse_tiebreaks", "standings"]
