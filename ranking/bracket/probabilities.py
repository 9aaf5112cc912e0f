"""Probabilities of seeded elimination brackets.

Exact single elimination, Monte Carlo single and double elimination, and the seeding and
win-matrix helpers they share.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ranking._logistic import win_probability
from ranking._validation import as_rng
from ranking.errors import InputError

_MC_CHUNK_CELLS = 4_000_000


def win_matrix(
    strength: ArrayLike, *, scale: float = 400.0, base: float = 10.0, name: str = "p"
) -> NDArray[np.float64]:
    """Pairwise win probabilities from ratings (1-D) or a checked matrix (2-D).

    Parameters
    ----------
    strength : array_like
        Ratings, shape ``(n,)``, or a matrix ``p`` of shape ``(n, n)`` with ``p[i, j]`` the
        probability that ``i`` beats ``j`` (entries in [0, 1], ``p[i, j] + p[j, i] = 1``
        off the diagonal; the diagonal is ignored).
    scale, base : float
        The rating curve ``1 / (1 + base**(-(r_i - r_j) / scale))``.
    name : str
        How error messages name the matrix.

    Returns
    -------
    ndarray, shape (n, n)
        ``P[i, j]``, with ½ on the diagonal.
    """
    arr = np.asarray(strength, dtype=np.float64)
    if not (np.isfinite(scale) and scale > 0):
        raise InputError(f"scale must be a positive number; got {scale!r}")
    if not (np.isfinite(base) and base > 1):
        raise InputError(f"base must be a number above 1; got {base!r}")
    if arr.ndim == 1:
        if not np.all(np.isfinite(arr)):
            raise InputError("ratings must be finite numbers")
        return win_probability(arr[:, None] - arr[None, :], scale=scale, base=base)
    if arr.ndim != 2 or arr.shape[0] != arr.shape[1]:
        raise InputError(f"{name} must be a square matrix; got shape {arr.shape}")
    n = arr.shape[0]
    if not np.all(np.isfinite(arr)):
        raise InputError(f"{name} must hold finite numbers")
    bad = np.argwhere((arr < 0) | (arr > 1))
    bad = bad[bad[:, 0] != bad[:, 1]]
    if len(bad):
        i, j = bad[0]
        raise InputError(f"{name}[{i}][{j}] must be a probability in [0, 1]; got {arr[i, j]}")
    off = ~np.eye(n, dtype=bool)
    gap = np.abs(arr + arr.T - 1.0) * off
    if np.any(gap > 1e-6):
        i, j = np.unravel_index(int(np.argmax(gap)), gap.shape)
        raise InputError(
            f"{name}[{i}][{j}] + {name}[{j}][{i}] must equal 1; got {arr[i, j]} + {arr[j, i]}"
        )
    out = arr.copy()
    np.fill_diagonal(out, 0.5)
    return out


def seed_slots(n_slots: int) -> NDArray[np.int64]:
    """Seed by the standard rule: the seed (0-based) in each slot of a ``n_slots`` bracket.

    Slots ``2k`` and ``2k + 1`` meet in round 1; seed 0 meets the last seed, seeds 0 and 1
    sit in opposite halves, seeds 0-3 in different quarters, and so on.

    Parameters
    ----------
    n_slots : int
        A power of two.

    Returns
    -------
    ndarray of int
        ``order[slot] = seed``.
    """
    if n_slots < 1 or n_slots & (n_slots - 1):
        raise InputError(f"n_slots must be a power of two; got {n_slots}")
    order = np.zeros(1, dtype=np.int64)
    while len(order) < n_slots:
        size = 2 * len(order)
        order = np.stack([order, size - 1 - order], axis=1).ravel()
    return order


def rounds_for(n: int) -> int:
    """Return the number of rounds of a bracket of ``n`` entrants (byes fill it to 2^R)."""
    if n < 2:
        raise InputError(f"a bracket needs at least 2 entrants; got {n}")
    return int(np.ceil(np.log2(n)))


def _slot_matrix(p: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.int64], int]:
    """Win matrix over bracket slots (byes as phantom entrants that always lose)."""
    n = p.shape[0]
    rounds = rounds_for(n)
    size = 1 << rounds
    ext = np.zeros((size, size))
    ext[:n, :n] = p
    ext[:n, n:] = 1.0
    ext[n:, n:] = 0.5
    order = seed_slots(size)
    return ext[np.ix_(order, order)], order, rounds


@dataclass(frozen=True)
class BracketProbabilities:
    """How far each entrant goes in a seeded single-elimination bracket.

    Attributes
    ----------
    rounds : int
        Number of rounds ``R``.
    p_reach : ndarray, shape (n, R + 1)
        ``p_reach[i, k]`` is the probability that entrant ``i`` (seed order) is still in
        the bracket in round ``k + 1``; column ``R`` is the probability of winning it.
        Round 1 is 1 for everyone (an entrant with a bye is in round 1 and walks over).
    stderr : ndarray or None
        Monte Carlo standard errors of ``p_reach`` (``None`` for exact values).
    p_third : ndarray or None
        Probability of winning the third-place match, when one is played.
    method : str
        ``"exact"`` or ``"monte_carlo"``.
    simulations : int or None
        Number of simulated brackets.
    """

    rounds: int
    p_reach: NDArray[np.float64]
    stderr: NDArray[np.float64] | None = None
    p_third: NDArray[np.float64] | None = None
    method: str = "exact"
    simulations: int | None = None

    @property
    def p_champion(self) -> NDArray[np.float64]:
        """Probability that each entrant wins the bracket."""
        return self.p_reach[:, -1]

    @property
    def expected_wins(self) -> NDArray[np.float64]:
        """Expected number of matches won (a walkover is not a win)."""
        n = self.p_reach.shape[0]
        byes = (1 << self.rounds) - n
        total = self.p_reach[:, 1:].sum(axis=1)
        total[:byes] -= 1.0
        return total


def bracket_probabilities(
    strength: ArrayLike, *, scale: float = 400.0, base: float = 10.0, third_place: bool = False
) -> BracketProbabilities:
    """Exact probabilities of reaching each round and of winning, by dynamic programming.

    A block of ``2h`` slots is won by ``i`` from its left half with probability
    ``q_i * sum_j q_j P[i, j]`` over the right half's ``j`` (the halves are independent),
    so each level is one batched matrix-vector product; ``O(N²)`` work overall.

    Parameters
    ----------
    strength : array_like
        Ratings in seed order, shape ``(n,)``, or a pairwise win-probability matrix
        ``(n, n)`` in seed order (see :func:`win_matrix`).
    scale, base : float
        Rating curve parameters (ignored for a matrix).
    third_place : bool, default False
        Also compute the probability of winning a match between the semi-final losers.

    Returns
    -------
    BracketProbabilities

    References
    ----------
    .. [1] Edwards, C. T. (1998). Non-parametric procedure for knockout tournaments.
       Journal of Applied Statistics 25(3), 375-385 (the recursion for reach probabilities).
    """
    p = win_matrix(strength, scale=scale, base=base)
    n = p.shape[0]
    ps, order, rounds = _slot_matrix(p)
    size = 1 << rounds
    q = np.ones(size)
    reach = [q]
    semi_q = q
    for level in range(1, rounds + 1):
        h = 1 << (level - 1)
        nb = size // (2 * h)
        blocks = ps.reshape(nb, 2 * h, nb, 2 * h)[np.arange(nb), :, np.arange(nb), :]
        qb = q.reshape(nb, 2, h)
        left = qb[:, 0] * np.einsum("bij,bj->bi", blocks[:, :h, h:], qb[:, 1])
        right = qb[:, 1] * np.einsum("bij,bj->bi", blocks[:, h:, :h], qb[:, 0])
        if level == rounds - 1:
            semi_q = q
        q = np.stack([left, right], axis=1).reshape(size)
        reach.append(q)
    by_slot = np.stack(reach, axis=1)
    p_reach = np.empty((size, rounds + 1))
    p_reach[order] = by_slot
    p_third = None
    if third_place:
        if n < 4:
            raise InputError("a third-place match needs at least 4 entrants")
        lost_semi = semi_q - reach[rounds - 1]  # in the semi-final, not through it
        half = size // 2
        top, bottom = lost_semi[:half], lost_semi[half:]
        third_slot = np.concatenate(
            [top * (ps[:half, half:] @ bottom), bottom * (ps[half:, :half] @ top)]
        )
        p_third = np.empty(size)
        p_third[order] = third_slot
        p_third = p_third[:n]
    return BracketProbabilities(rounds=rounds, p_reach=p_reach[:n], p_third=p_third)


def _mc_setup(
    strength: ArrayLike,
    simulations: int,
    scale: float,
    base: float,
    rng: int | np.random.Generator | None,
) -> tuple[np.random.Generator, NDArray[np.float64], NDArray[np.int64], int, int, int]:
    """Validate the inputs of a Monte Carlo bracket: ``(gen, ps, order, rounds, n, total)``."""
    if (
        isinstance(simulations, bool)
        or not isinstance(simulations, int | np.integer)
        or simulations < 1
    ):
        raise InputError(f"simulations must be a positive integer; got {simulations!r}")
    p = win_matrix(strength, scale=scale, base=base)
    ps, order, rounds = _slot_matrix(p)
    return as_rng(rng), ps, order, rounds, p.shape[0], int(simulations)


def _mc_brackets(
    gen: np.random.Generator, ps: NDArray[np.float64], rounds: int, total: int
) -> Iterator[tuple[int, int, int, NDArray[np.int64]]]:
    """Play ``total`` single-elimination brackets in chunks of simulations.

    Yields ``(lo, hi, level, alive)`` after each round: ``alive[k]`` are the bracket slots
    still in simulations ``lo + k`` after round ``level``.
    """
    size = 1 << rounds
    chunk = max(1, _MC_CHUNK_CELLS // size)
    for lo in range(0, total, chunk):
        hi = min(total, lo + chunk)
        alive = np.broadcast_to(np.arange(size), (hi - lo, size))
        for level in range(1, rounds + 1):
            a, b = alive[:, 0::2], alive[:, 1::2]
            alive = np.where(gen.random(a.shape) < ps[a, b], a, b)
            yield lo, hi, level, alive


def bracket_samples(
    strength: ArrayLike,
    *,
    simulations: int,
    scale: float = 400.0,
    base: float = 10.0,
    rng: int | np.random.Generator | None = None,
) -> NDArray[np.int8]:
    """Simulate brackets; return the number of rounds each entrant won per simulation.

    Parameters
    ----------
    strength : array_like
        Ratings or win matrix in seed order (see :func:`win_matrix`).
    simulations : int
        Number of independent brackets.
    scale, base : float
        Rating curve parameters.
    rng : int, Generator or None
        Source of randomness.

    Returns
    -------
    ndarray of int8, shape (simulations, n)
        ``k`` means the entrant reached round ``k + 1`` (``R`` = champion); byes count as
        a round won, so placements compare across entrants.
    """
    gen, ps, order, rounds, n, total = _mc_setup(strength, simulations, scale, base, rng)
    size = 1 << rounds
    out = np.zeros((total, size), dtype=np.int8)
    for lo, hi, _, alive in _mc_brackets(gen, ps, rounds, total):
        out[np.arange(lo, hi)[:, None], alive] += 1
    result = np.empty_like(out)
    result[:, order] = out
    return result[:, :n]


def bracket_monte_carlo(
    strength: ArrayLike,
    *,
    simulations: int = 100_000,
    scale: float = 400.0,
    base: float = 10.0,
    rng: int | np.random.Generator | None = None,
) -> BracketProbabilities:
    """Monte Carlo estimates of :func:`bracket_probabilities` with standard errors.

    Parameters
    ----------
    strength : array_like
        Ratings or win matrix in seed order (see :func:`win_matrix`).
    simulations : int, default 100_000
        Number of simulated brackets (vectorised across simulations).
    scale, base : float
        Rating curve parameters.
    rng : int, Generator or None
        Source of randomness; the same seed gives the same estimates.

    Returns
    -------
    BracketProbabilities
        With ``stderr = sqrt(p (1 - p) / simulations)``.
    """
    gen, ps, order, rounds, n, total = _mc_setup(strength, simulations, scale, base, rng)
    size = 1 << rounds
    counts = np.zeros((size, rounds + 1))
    counts[:, 0] = total
    for _, _, level, alive in _mc_brackets(gen, ps, rounds, total):
        counts[:, level] += np.bincount(alive.ravel(), minlength=size)
    by_seed = np.empty_like(counts)
    by_seed[order] = counts
    p_reach = by_seed[:n] / total
    stderr = np.sqrt(p_reach * (1 - p_reach) / total)
    return BracketProbabilities(
        rounds=rounds, p_reach=p_reach, stderr=stderr, method="monte_carlo", simulations=total
    )


@dataclass(frozen=True)
class DoubleEliminationResult:
    """Monte Carlo summary of a seeded double-elimination bracket.

    Attributes
    ----------
    rounds : int
        Winners' bracket rounds ``R`` (the losers' bracket has ``2R - 2``).
    p_champion, p_grand_final : ndarray, shape (n,)
        Probability of winning the event and of reaching the grand final.
    p_unbeaten : ndarray, shape (n,)
        Probability of winning the winners' bracket.
    expected_wins : ndarray, shape (n,)
        Expected matches won (walkovers excluded).
    expected_place : ndarray, shape (n,)
        Expected final place (1 = champion; entrants knocked out in the same round share
        the best place of that round).
    stderr : dict of str to ndarray
        Standard errors of the four arrays above, by attribute name.
    simulations : int
        Number of simulated events.
    """

    rounds: int
    p_champion: NDArray[np.float64]
    p_grand_final: NDArray[np.float64]
    p_unbeaten: NDArray[np.float64]
    expected_wins: NDArray[np.float64]
    expected_place: NDArray[np.float64]
    stderr: dict[str, NDArray[np.float64]]
    simulations: int


def _de_chunk(
    ps: NDArray[np.float64],
    real: NDArray[np.bool_],
    rounds: int,
    s: int,
    reset: bool,
    gen: np.random.Generator,
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64], NDArray[np.bool_]]:
    """One batch of double-elimination events over bracket slots.

    Returns per slot: the stage at which it was knocked out (higher is better; the
    champion gets the top stage), matches won, whether it reached the grand final, and
    whether it won the winners' bracket.
    """
    size = 1 << rounds
    rows = np.arange(s)[:, None]
    stage = np.zeros((s, size), dtype=np.int64)
    wins = np.zeros((s, size), dtype=np.int64)

    def play(
        a: NDArray[np.int64], b: NDArray[np.int64], played: NDArray[np.bool_] | None = None
    ) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        a_wins = gen.random(a.shape) < ps[a, b]
        winner, loser = np.where(a_wins, a, b), np.where(a_wins, b, a)
        counted = real[a] & real[b] if played is None else real[a] & real[b] & played
        wins[rows, winner] += counted
        return winner, loser

    wb = np.broadcast_to(np.arange(size), (s, size))
    dropped: list[NDArray[np.int64]] = []
    for _ in range(rounds):
        wb, lost = play(wb[:, 0::2], wb[:, 1::2])
        dropped.append(lost)
    lb = dropped[0]
    level = 1
    if lb.shape[1] > 1:
        lb, out = play(lb[:, 0::2], lb[:, 1::2])
        stage[rows, out] = level
        level += 1
    for k in range(1, rounds):
        lb, out = play(dropped[k][:, ::-1], lb)  # reversed drop-in limits early rematches
        stage[rows, out] = level
        level += 1
        if lb.shape[1] > 1:
            lb, out = play(lb[:, 0::2], lb[:, 1::2])
            stage[rows, out] = level
            level += 1
    top, bottom = wb[:, 0], lb[:, 0]
    finalists = np.zeros((s, size), dtype=bool)
    finalists[rows[:, 0], top] = True
    finalists[rows[:, 0], bottom] = True
    unbeaten = np.zeros((s, size), dtype=bool)
    unbeaten[rows[:, 0], top] = True
    champ, runner = play(top[:, None], bottom[:, None])
    if reset:
        again = champ[:, 0] == bottom  # the unbeaten side lost once: play a second final
        c2, r2 = play(champ, runner, again[:, None])
        champ = np.where(again[:, None], c2, champ)
        runner = np.where(again[:, None], r2, runner)
    stage[rows, runner] = level
    stage[rows, champ] = level + 1
    return stage, wins, finalists, unbeaten


def double_elimination(
    strength: ArrayLike,
    *,
    simulations: int = 100_000,
    grand_final_reset: bool = True,
    scale: float = 400.0,
    base: float = 10.0,
    rng: int | np.random.Generator | None = None,
) -> DoubleEliminationResult:
    """Monte Carlo outcome probabilities of a seeded double-elimination bracket.

    The winners' bracket is the standard seeded bracket (byes to the top seeds). Its
    round-1 losers play each other in the losers' bracket; the losers of each later
    winners' round drop in, in reversed order, against the losers'-bracket survivors,
    which then play each other again, until one survivor meets the winners' bracket
    champion in the grand final. With ``grand_final_reset`` a first loss for the
    unbeaten finalist forces a second, deciding final.

    Parameters
    ----------
    strength : array_like
        Ratings or win matrix in seed order (see :func:`win_matrix`).
    simulations : int, default 100_000
        Number of simulated events (vectorised across simulations).
    grand_final_reset : bool, default True
        Play the bracket-reset final.
    scale, base : float
        Rating curve parameters.
    rng : int, Generator or None
        Source of randomness.

    Returns
    -------
    DoubleEliminationResult
    """
    gen, ps, order, rounds, n, total = _mc_setup(strength, simulations, scale, base, rng)
    size = 1 << rounds
    real = order < n
    acc = {
        key: np.zeros(size)
        for key in ("champ", "final", "unbeaten", "wins", "wins2", "place", "place2")
    }
    chunk = max(1, _MC_CHUNK_CELLS // (4 * size))
    for lo in range(0, total, chunk):
        s = min(total, lo + chunk) - lo
        stage, wins, finalists, unbeaten = _de_chunk(ps, real, rounds, s, grand_final_reset, gen)
        # place = 1 + number of real entrants knocked out later (phantoms at stage -1)
        stage = np.where(real[None, :], stage, -1) + 1
        levels = int(stage.max()) + 1
        counts = np.bincount(
            (np.arange(s)[:, None] * levels + stage).ravel(), minlength=s * levels
        ).reshape(s, levels)
        later = np.cumsum(counts[:, ::-1], axis=1)[:, ::-1] - counts
        place = 1 + np.take_along_axis(later, stage, axis=1)
        acc["champ"] += (stage == stage.max(axis=1, keepdims=True)).sum(axis=0)
        acc["final"] += finalists.sum(axis=0)
        acc["unbeaten"] += unbeaten.sum(axis=0)
        acc["wins"] += wins.sum(axis=0)
        acc["wins2"] += (wins.astype(np.float64) ** 2).sum(axis=0)
        acc["place"] += place.sum(axis=0)
        acc["place2"] += (place.astype(np.float64) ** 2).sum(axis=0)

    def by_seed(x: NDArray[np.float64]) -> NDArray[np.float64]:
        out = np.empty(size)
        out[order] = x
        return out[:n]

    mean = {k: by_seed(v / total) for k, v in acc.items()}

    def se_p(q: NDArray[np.float64]) -> NDArray[np.float64]:
        return np.sqrt(q * (1 - q) / total)

    def se_mean(m1: NDArray[np.float64], m2: NDArray[np.float64]) -> NDArray[np.float64]:
        var = np.maximum(m2 - m1**2, 0.0) * total / max(total - 1, 1)
        return np.sqrt(var / total)

    stderr = {
        "p_champion": se_p(mean["champ"]),
        "p_grand_final": se_p(mean["final"]),
        "p_unbeaten": se_p(mean["unbeaten"]),
        "expected_wins": se_mean(mean["wins"], mean["wins2"]),
        "expected_place": se_mean(mean["place"], mean["place2"]),
    }
    return DoubleEliminationResult(
        rounds=rounds,
        p_champion=mean["champ"],
        p_grand_final=mean["final"],
        p_unbeaten=mean["unbeaten"],
        expected_wins=mean["wins"],
        expected_place=mean["place"],
        stderr=stderr,
        simulations=total,
    )
