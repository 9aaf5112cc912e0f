"""FIDE Dutch system pairing (C.04.3), bracket by bracket as bbpPairings does it.

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

References
----------
FIDE Handbook C.04.1 (Basic rules for Swiss systems), C.04.3 (FIDE (Dutch) System,
rules in force from 1 February 2026). bbpPairings (Bierema Boyz Programming),
``src/swisssystems/dutch.cpp``.
"""

from __future__ import annotations

import numpy as np

from ranking._matching import max_weight_matching
from ranking.errors import PairingError
from ranking.swiss._players import DOWN, UP, Summary, bits, compatible, finish, invert
from ranking.swiss.state import Pairing, SwissState

#: Up to this many players to pair, every bracket is settled on the whole graph.
FULL_GRAPH_LIMIT = 96


class DutchPairer:
    """Bracket-by-bracket port of bbpPairings' Dutch matching procedure."""

    def __init__(self, ps: list[Summary], state: SwissState, n_rounds: int) -> None:
        self.ps = ps
        self.state = state
        self.n_rounds = n_rounds
        self.n = len(ps)
        n = self.n
        self.compat = [[False] * n for _ in range(n)]
        for i in range(n):
            for j in range(i):
                c = compatible(ps[i], ps[j], state, n_rounds)
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
    def _cand(self, p: Summary) -> bool:
        return p.eligible and p.score <= self.bye_score

    def comp(self, u: int, v: int) -> int:
        """Return the compatibility class of ``u`` and ``v``: 0 if they cannot meet, else 1-3.

        The class grows with the number of the two who cannot take the bye.
        """
        if not self.compat[u][v]:
            return 0
        a, b = self.ps[u], self.ps[v]
        return 1 + (not self._cand(a)) + (not self._cand(b))

    def weight(self, u: int, v: int) -> int:
        """Return the matching weight of the edge ``u``-``v`` (0 when it may not be used)."""
        key = (u, v) if u < v else (v, u)
        if key in self.dead:
            return 0
        c = self.comp(u, v)
        if not c:
            return 0
        return (c << self.K) + self.low.get(key, 0)

    def solve(self, scope: list[int]) -> list[int]:
        """Match the players of ``scope`` at maximum weight; return ``mate`` over all players."""
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
        """Pair the whole round, bracket by bracket from the top score group down."""
        ps, n = self.ps, self.n
        levels = sorted({p.score for p in ps})
        lvl = {s: i for i, s in enumerate(levels)}
        lb = bits(2 * n * len(levels))
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
        self.w = bits(size)

        def shifts_of(counts: dict[int, int]) -> tuple[dict[int, int], int]:
            sh: dict[int, int] = {}
            total = 0
            for s in sorted(counts):
                if counts[s] > 0:
                    sh[s] = total
                    total += bits(counts[s])
            return sh, total

        cnt_cur: dict[int, int] = {}
        for p in cur:
            cnt_cur[p.score] = cnt_cur.get(p.score, 0) + 1
        cnt_all: dict[int, int] = {}
        for p in allp:
            cnt_all[p.score] = cnt_all.get(p.score, 0) + 1
        self.wp = bits(len(cur) // 2)
        self.sh_cur, self.sgw_cur = shifts_of(cnt_cur)
        self.wn = bits(size // 2)
        self.sh_all, self.sgw_all = shifts_of(cnt_all)
        self.c9w = bits(size * (max(self.played_rank.values(), default=0) + 1)) if self.c9 else 0
        imb2 = sum(1 for p in cur if p.imbalance > 1)
        absolute = sum(1 for p in cur if p.absolute)
        prefd = sum(1 for p in cur if p.pref is not None)
        strong = sum(1 for p in cur if p.strong or p.absolute)
        self.cw = [
            bits(imb2 // 2) if imb2 > 1 else 0,
            bits(absolute // 2) if absolute > 1 else 0,
            bits(prefd // 2) if prefd > 1 else 0,
            bits(strong // 2) if strong > 1 else 0,
        ]
        self.fw: list[tuple[int, int, dict[int, int], int, dict[int, int], int]] = []
        for back in range(2):
            if self.n_rounds <= back:
                continue
            downs = [p for p in cur if p.floats[back] == DOWN]
            ups = [p for p in cur if p.floats[back] == UP]
            dcount: dict[int, int] = {}
            for p in downs:
                dcount[p.score] = dcount.get(p.score, 0) + 1
            dsh, dw = shifts_of(dcount)
            ucount = {s: len(ups) for s in cnt_cur} if ups else {}
            ush, uw = shifts_of(ucount)
            self.fw.append(
                (bits(len(downs)) if downs else 0, bits(len(ups)) if ups else 0, dsh, dw, ush, uw)
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
            rep_ok = (o if p.imbalance > o.imbalance else p).repeated != invert(p.pref)
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
                r += int(lo.floats[back] == DOWN)
                r += int(h.score <= lo.score and h.floats[back] == DOWN)
            r <<= uw1
            if uw1 and cur and h.score > lo.score and lo.floats[back] == UP:
                r -= 1
        for back, (_, _, dsh, dw, ush, uw) in enumerate(self.fw):
            r <<= dw
            if dw and cur:
                if lo.floats[back] == DOWN:
                    r += 1 << dsh[lo.score]
                if h.floats[back] == DOWN:
                    r += 1 << dsh[h.score]
            r <<= uw
            if uw and cur and lo.floats[back] == UP and h.score > lo.score:
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
        return finish(ps, mate_final, self.state)

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
