"""Random Swiss pairing inside score groups (the Competitive Swiss-system Dynamics method).

Odd players float to the next group; the same absolute criteria and bye rules as the
FIDE Dutch system apply.
"""

from __future__ import annotations

import random as _random

import numpy as np

from ranking._matching import max_weight_matching
from ranking.errors import PairingError
from ranking.swiss._players import Summary, bits, compatible, finish
from ranking.swiss.state import Pairing, SwissState


def pair_random(
    ps: list[Summary], state: SwissState, n_rounds: int, gen: np.random.Generator
) -> Pairing:
    """Random pairing inside score groups, top down; odd or unpairable players float.

    Each group (floaters from above first, then the residents in random order) is paired
    greedily, each player with the first compatible one left; when that leaves more than
    the odd one out (or a floater) unpaired, a maximum matching with random tie-breaking
    weights pairs as many as possible, floaters first. If the last group cannot be completed
    with an eligible bye, the whole field is paired at once (:func:`pair_random_global`).
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
                if y != x and y not in greedy and compatible(ps[x], ps[y], state, n_rounds):
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
                    compat[key] = compatible(ps[x], ps[y], state, n_rounds)
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
        return pair_random_global(ps, state, n_rounds, rnd)
    return finish(ps, mate, state)


def pair_random_global(
    ps: list[Summary], state: SwissState, n_rounds: int, rnd: _random.Random
) -> Pairing:
    """Pair the whole field at once when group-by-group random pairing fails.

    A maximum-weight matching over every compatible pair pairs first the players who
    cannot take the bye, then high score groups, then close scores, with random
    tie-breaking weights from ``rnd``.
    """
    n = len(ps)
    levels = sorted({p.score for p in ps})
    lvl = {s: i for i, s in enumerate(levels)}
    gap_bits = bits(n * len(levels))
    lvl_bits = bits(n * len(levels))
    edges = []
    for i in range(n):
        for j in range(i):
            a, b = ps[i], ps[j]
            if not compatible(a, b, state, n_rounds):
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
    return finish(ps, mate, state)
