"""Competitive Swiss-system dynamics and Monte Carlo prediction of tournament outcomes.

The LLM Swiss Round method (Liu et al., 2025) turns per-benchmark results into a
tournament: the rounds are an ordered list of benchmarks; in each round the models still
in play are grouped by record (number of wins so far), paired at random inside each group
(the odd one out of a group gets a bye worth zero points), and the pair's winner is the
model with the higher score on that round's benchmark, or is drawn from a pairwise win
probability. After round ``k`` the ``T_k`` models with the lowest records are eliminated.
The expected win score ``E[S]`` of a model is its mean number of wins over many simulated
tournaments; every simulation runs in parallel as rows of numpy arrays.

:func:`simulate_rest` predicts the end of a tournament already under way, of any format:
from the points so far it plays the remaining rounds (fixed pairs, pairing by score,
random pairs, eliminations, the rest of a knockout bracket), so its ``E[S]`` sums to the
points the whole event distributes.

Conventions fixed here (the paper leaves them open):

- equal benchmark scores give each side a win probability of ½;
- elimination ties: when several models share the record at the elimination cut, the ones
  removed are drawn uniformly at random among them;
- a model eliminated after round ``k`` keeps the wins it had; it plays no further rounds;
- ``p_first`` shares first place equally among models level on wins, so it sums to 1;
- rematches are allowed (the method pairs by record only);
- a game is decided by one single-precision uniform draw against the win probability
  (resolution 2**-24; probabilities 0, ½ and 1 are exact);
- models are simulated in the order of their names, so permuting the input permutes the
  output exactly for a given seed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ranking._bootstrap import percentile_interval
from ranking._validation import (
    as_rng,
    check_base,
    check_positive,
    check_positive_int,
    check_probability,
    seed_param,
)
from ranking.battles import Battles, components
from ranking.bracket import bracket_probabilities, bracket_samples, win_matrix
from ranking.errors import InputError
from ranking.types import A_WINS, TIE, RatingResult, best_first

__all__ = [
    "Cut",
    "FailureSensitivity",
    "FixedRound",
    "KnockoutRounds",
    "RandomRound",
    "RestPrediction",
    "ScoreRound",
    "SwissDynamicsResult",
    "TournamentPrediction",
    "expected_score_rating",
    "failure_sensitivity",
    "predict_tournament",
    "scores_to_win",
    "simulate_format",
    "simulate_rest",
    "swiss_dynamics",
    "swiss_dynamics_samples",
]

_CHUNK_CELLS = 1_000_000
FORMATS = ("round_robin", "single_elimination", "swiss")

Rng = int | np.random.Generator | None


def _check_iterations(iterations: object) -> int:
    if (
        isinstance(iterations, bool)
        or not isinstance(iterations, int | np.integer)
        or int(iterations) < 1
    ):
        raise InputError(f"iterations must be a positive integer; got {iterations!r}")
    return int(iterations)


def scores_to_win(scores: ArrayLike) -> NDArray[np.float64]:
    """Per-round win matrices from benchmark scores (higher score wins, equal scores ½).

    Parameters
    ----------
    scores : array_like, shape (K, M)
        ``scores[k, m]``: model ``m``'s score on the benchmark of round ``k``.

    Returns
    -------
    ndarray, shape (K, M, M)
        ``W[k, i, j]`` = 1 if ``i`` scored higher than ``j``, 0 if lower, ½ if equal.
    """
    s = np.asarray(scores, dtype=np.float64)
    if s.ndim != 2:
        raise InputError(f"scores must have shape (rounds, models); got {s.shape}")
    if not np.all(np.isfinite(s)):
        k, m = np.argwhere(~np.isfinite(s))[0]
        raise InputError(f"scores[{k}][{m}] must be a finite number")
    return np.sign(s[:, :, None] - s[:, None, :]) * 0.5 + 0.5


def _check_rounds(rounds: ArrayLike) -> NDArray[np.float64]:
    w = np.asarray(rounds, dtype=np.float64)
    if w.ndim == 2:
        w = w[None]
    if w.ndim != 3 or w.shape[1] != w.shape[2]:
        raise InputError(f"rounds must have shape (K, M, M); got {w.shape}")
    if w.shape[0] < 1 or w.shape[1] < 2:
        raise InputError("need at least 1 round and 2 models")
    return np.stack([win_matrix(w[k], name=f"rounds[{k}].p") for k in range(w.shape[0])])


def _check_eliminate(
    eliminate: Sequence[int] | None, n_rounds: int, n_models: int
) -> NDArray[np.int64]:
    t = np.zeros(n_rounds, dtype=np.int64)
    if eliminate is None:
        return t
    vals = list(eliminate)
    if len(vals) > n_rounds:
        raise InputError(f"eliminate has {len(vals)} entries but there are only {n_rounds} rounds")
    for k, v in enumerate(vals):
        if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < 0:
            raise InputError(f"eliminate[{k}] must be a non-negative integer; got {v!r}")
        t[k] = int(v)
    if t.sum() > n_models - 1:
        raise InputError(
            f"eliminate removes {int(t.sum())} of {n_models} models; at most {n_models - 1} can go"
        )
    return t


def _canonical(names: Sequence[str] | None, m: int) -> tuple[tuple[str, ...], NDArray[np.int64]]:
    if names is None:
        return tuple(f"model_{i}" for i in range(m)), np.arange(m)
    names_t = tuple(str(x) for x in names)
    if len(names_t) != m:
        raise InputError(f"names has {len(names_t)} entries for {m} models")
    if len(set(names_t)) != m:
        raise InputError("model names must be unique")
    return names_t, np.array(sorted(range(m), key=lambda i: names_t[i]), dtype=np.int64)


def _swiss_chunk(
    w: NDArray[np.float64], t: NDArray[np.int64], s: int, gen: np.random.Generator
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Simulate ``s`` tournaments: final wins ``(s, M)`` and survivor counts ``(K, M)``.

    Each row is kept as an arrangement of the models; one in-place sort of packed int64
    keys ``(group code, random bits, model index)`` per round groups the field by record
    in random order, and pairs are neighbours inside a group.
    """
    k_rounds, m, _ = w.shape
    idx_bits = max(1, int(m - 1).bit_length())
    code_bits = int(2 * k_rounds + 2).bit_length()
    rbits = min(52, 63 - idx_bits - code_bits)
    if rbits < 24:
        raise InputError(f"too many models ({m}) or rounds ({k_rounds}) to simulate")
    cshift = idx_bits + rbits
    imask = (1 << idx_bits) - 1
    rscale = float(1 << rbits)
    wflat = w.reshape(k_rounds, m * m).astype(np.float32)
    # code = K - wins for a model still in, K + 1 + wins once eliminated: sorting by code
    # groups the field by record, best first, with eliminated models at the end.
    idx = np.broadcast_to(np.arange(m, dtype=np.int64), (s, m)).copy()
    code = np.full((s, m), k_rounds, dtype=np.int64)
    survive = np.zeros((k_rounds, m), dtype=np.int64)
    eliminated = False

    def arrange(sort_code: NDArray[np.int64]) -> NDArray[np.int64]:
        nonlocal idx
        key = (sort_code << cshift) | ((gen.random((s, m)) * rscale).astype(np.int64) << idx_bits)
        key |= idx
        key.sort(axis=1)
        idx = key & imask
        return key >> cshift

    for k in range(k_rounds):
        code = arrange(code)
        alive = code <= k_rounds
        same = np.ascontiguousarray((code[:, 1:] == code[:, :-1]).T)
        odd = np.zeros((m, s), dtype=bool)  # odd position inside its score group
        for p in range(1, m):
            np.logical_and(same[p - 1], ~odd[p - 1], out=odd[p])
        paired = (~odd[:-1] & same).T & alive[:, :-1]
        pr = np.take(wflat[k], idx[:, :-1] * m + idx[:, 1:])
        i_wins = gen.random((s, m - 1), dtype=np.float32) < pr
        code[:, :-1] -= paired & i_wins
        code[:, 1:] -= paired & ~i_wins
        cut = int(t[k])
        if cut:
            # lowest records first, random order among equal records; eliminated ones last
            ecode = arrange(np.where(alive, k_rounds - code, code))
            alive = ecode <= k_rounds
            alive[:, :cut] = False
            code = np.where(
                alive, k_rounds - ecode, np.where(ecode <= k_rounds, k_rounds + 1 + ecode, ecode)
            )
            eliminated = True
        if eliminated:
            survive[k] = np.bincount(idx[alive], minlength=m)
        else:
            survive[k] = s
    wins = np.where(code <= k_rounds, k_rounds - code, code - k_rounds - 1)
    out = np.empty_like(wins)
    np.put_along_axis(out, idx, wins, axis=1)
    return out, survive


def _swiss_run(
    w: NDArray[np.float64], t: NDArray[np.int64], n: int, gen: np.random.Generator
) -> tuple[NDArray[np.int16], NDArray[np.int64]]:
    chunk = max(1, _CHUNK_CELLS // w.shape[1])
    wins = np.empty((n, w.shape[1]), dtype=np.int16)
    survive = np.zeros((w.shape[0], w.shape[1]), dtype=np.int64)
    for lo in range(0, n, chunk):
        hi = min(n, lo + chunk)
        part, surv = _swiss_chunk(w, t, hi - lo, gen)
        wins[lo:hi] = part
        survive += surv
    return wins, survive


def swiss_dynamics_samples(
    rounds: ArrayLike,
    *,
    eliminate: Sequence[int] | None = None,
    iterations: int = 100_000,
    rng: Rng = None,
) -> NDArray[np.int16]:
    """Raw simulations of the Competitive Swiss-system dynamics (input order kept).

    Parameters
    ----------
    rounds : array_like, shape (K, M, M)
        ``rounds[k][i][j]``: probability that ``i`` beats ``j`` in round ``k``
        (see :func:`scores_to_win` for benchmark scores).
    eliminate : sequence of int, optional
        ``T_k``: number of lowest-record models removed after round ``k`` (missing entries
        are 0).
    iterations : int, default 100_000
        Number of simulated tournaments.
    rng : int, Generator or None
        Source of randomness.

    Returns
    -------
    ndarray of int16, shape (iterations, M)
        Final number of wins of each model in each simulated tournament.
    """
    w = _check_rounds(rounds)
    t = _check_eliminate(eliminate, w.shape[0], w.shape[1])
    return _swiss_run(w, t, _check_iterations(iterations), as_rng(rng))[0]


@dataclass(frozen=True)
class SwissDynamicsResult:
    """Monte Carlo summary of Competitive Swiss-system dynamics.

    Attributes
    ----------
    models : tuple of str
        Model names; arrays are indexed like this tuple.
    iterations : int
        Number of simulated tournaments.
    eliminate : tuple of int
        The elimination schedule ``T_k`` (one entry per round).
    expected_score : ndarray, shape (M,)
        ``E[S]``: mean final number of wins.
    stderr : ndarray, shape (M,)
        Standard error of ``expected_score`` (sample standard deviation / sqrt(N)).
    p_survive : ndarray, shape (M, K)
        ``p_survive[m, k]``: probability that ``m`` is still in after round ``k + 1``'s
        elimination.
    p_first : ndarray, shape (M,)
        Probability of finishing with the most wins (shared equally on ties).
    p_first_stderr : ndarray, shape (M,)
        Its standard error.
    score_pmf : ndarray, shape (M, K + 1)
        Distribution of the final number of wins.
    """

    models: tuple[str, ...]
    iterations: int
    eliminate: tuple[int, ...]
    expected_score: NDArray[np.float64]
    stderr: NDArray[np.float64]
    p_survive: NDArray[np.float64]
    p_first: NDArray[np.float64]
    p_first_stderr: NDArray[np.float64]
    score_pmf: NDArray[np.float64]

    def order(self) -> NDArray[np.int64]:
        """Models by expected score, best first (ties by name)."""
        return best_first(self.models, self.expected_score)


def _first_share(scores: NDArray[np.floating] | NDArray[np.integer]) -> NDArray[np.float64]:
    top = scores == scores.max(axis=1, keepdims=True)
    return top / top.sum(axis=1, keepdims=True)


def swiss_dynamics(
    rounds: ArrayLike,
    *,
    names: Sequence[str] | None = None,
    eliminate: Sequence[int] | None = None,
    iterations: int = 100_000,
    rng: Rng = None,
) -> SwissDynamicsResult:
    """Estimate the expected win scores ``E[S]`` under Competitive Swiss-system dynamics.

    Parameters
    ----------
    rounds : array_like, shape (K, M, M)
        Per-round pairwise win probabilities (use :func:`scores_to_win` for benchmark
        scores: the higher score wins).
    names : sequence of str, optional
        Model names (unique); the simulation runs in name order so that a permutation of
        the input permutes the output exactly for a given seed.
    eliminate : sequence of int, optional
        ``T_k``, models removed after round ``k`` (lowest records; random among equal
        records at the cut).
    iterations : int, default 100_000
        Number of simulated tournaments (vectorised across simulations).
    rng : int, Generator or None
        Source of randomness.

    Returns
    -------
    SwissDynamicsResult

    References
    ----------
    .. [1] Liu, J., Wu, J., Wu, C., Liu, J., Wang, Z., Zhou, H., Huang, W., Namkoong, H.
       (2025). LLM Swiss Round: Aggregating Multi-Benchmark Performance via Competitive
       Swiss-System Dynamics. arXiv:2512.21010.
    """
    w = _check_rounds(rounds)
    k_rounds, m = w.shape[0], w.shape[1]
    models, perm = _canonical(names, m)
    t = _check_eliminate(eliminate, k_rounds, m)
    n = _check_iterations(iterations)
    wins_c, survive_c = _swiss_run(w[:, perm][:, :, perm], t, n, as_rng(rng))
    inv = np.argsort(perm)
    wins = wins_c[:, inv].astype(np.float64)
    mean = wins.mean(axis=0)
    sd = wins.std(axis=0, ddof=1) if n > 1 else np.zeros(m)
    share = _first_share(wins)
    p_first = share.mean(axis=0)
    p_first_sd = share.std(axis=0, ddof=1) if n > 1 else np.zeros(m)
    p_survive = (survive_c[:, inv] / n).T
    pmf = np.stack([(wins == v).mean(axis=0) for v in range(k_rounds + 1)], axis=1)
    return SwissDynamicsResult(
        models=models,
        iterations=n,
        eliminate=tuple(int(x) for x in t),
        expected_score=mean,
        stderr=sd / np.sqrt(n),
        p_survive=p_survive,
        p_first=p_first,
        p_first_stderr=p_first_sd / np.sqrt(n),
        score_pmf=pmf,
    )


@dataclass(frozen=True)
class FailureSensitivity:
    """E[S] as the per-round elimination quantity grows.

    Attributes
    ----------
    models : tuple of str
        Model names.
    levels : tuple of int
        The uniform elimination quantities ``T`` tried (``T_k = T`` after every round but
        the last).
    expected_score, stderr : ndarray, shape (L, M)
        E[S] and its standard error at each level.
    rank : ndarray of int, shape (L, M)
        Rank by E[S] at each level (1 = best; equal values share the better rank).
    retention : ndarray, shape (M,)
        E[S] under the harshest level over E[S] without elimination: near 1 for a robust
        generalist, low for a model whose early failures get it knocked out.
    rank_shift : ndarray of int, shape (M,)
        Rank without elimination minus rank under the harshest level (positive: the model
        climbs when failure is punished).
    share_shift : ndarray, shape (M,)
        Change of the model's share of all wins, ``E[S_m] / sum E[S]``, from no
        elimination to the harshest level. Elimination removes wins from the field as a
        whole; a model whose share grows loses less than the field.
    profile : tuple of str
        ``"robust generalist"`` (its share grows), ``"aggressive specialist"`` (its share
        shrinks) or ``"neutral"`` (unchanged within 1e-9), from ``share_shift``.
    """

    models: tuple[str, ...]
    levels: tuple[int, ...]
    expected_score: NDArray[np.float64]
    stderr: NDArray[np.float64]
    rank: NDArray[np.int64]
    retention: NDArray[np.float64]
    rank_shift: NDArray[np.int64]
    share_shift: NDArray[np.float64]
    profile: tuple[str, ...]


def failure_sensitivity(
    rounds: ArrayLike,
    *,
    names: Sequence[str] | None = None,
    levels: Sequence[int] | None = None,
    iterations: int = 100_000,
    rng: Rng = None,
) -> FailureSensitivity:
    """Failure-sensitivity sweep: E[S] under growing per-round elimination ``T``.

    Every level reuses the same random stream (common random numbers), so differences
    between levels are due to elimination rather than simulation noise.

    Parameters
    ----------
    rounds : array_like, shape (K, M, M)
        Per-round win probabilities (see :func:`swiss_dynamics`).
    names : sequence of str, optional
        Model names.
    levels : sequence of int, optional
        Values of ``T`` to try; by default ``0, 1, ...`` up to the largest ``T`` that
        leaves at least 2 models for the last round.
    iterations : int, default 100_000
        Simulations per level.
    rng : int, Generator or None
        Source of randomness.

    Returns
    -------
    FailureSensitivity

    References
    ----------
    .. [1] Liu et al. (2025), arXiv:2512.21010, failure sensitivity analysis.
    """
    w = _check_rounds(rounds)
    k_rounds, m = w.shape[0], w.shape[1]
    if k_rounds < 2:
        raise InputError("a failure-sensitivity sweep needs at least 2 rounds")
    if levels is None:
        levels = list(range(0, (m - 2) // (k_rounds - 1) + 1))
        if len(levels) < 2:
            raise InputError(
                f"{m} models over {k_rounds} rounds leave no room to eliminate "
                f"one model per round; give levels explicitly"
            )
    levels_t = tuple(int(x) for x in levels)
    if len(levels_t) < 2 or min(levels_t) < 0:
        raise InputError("levels must hold at least 2 non-negative integers")
    base_seed = int(as_rng(rng).integers(2**63))
    results = [
        swiss_dynamics(
            w,
            names=names,
            iterations=iterations,
            rng=base_seed,
            eliminate=[lv] * (k_rounds - 1) + [0],
        )
        for lv in levels_t
    ]
    es = np.stack([r.expected_score for r in results])
    se = np.stack([r.stderr for r in results])
    rank = (1 + (es[:, None, :] > es[:, :, None]).sum(axis=2)).astype(np.int64)
    lo, hi = int(np.argmin(levels_t)), int(np.argmax(levels_t))
    with np.errstate(divide="ignore", invalid="ignore"):
        retention = np.where(es[lo] > 0, es[hi] / es[lo], np.nan)
    share = es / es.sum(axis=1, keepdims=True)
    share_shift = share[hi] - share[lo]
    profile = tuple(
        "robust generalist" if d > 1e-9 else "aggressive specialist" if d < -1e-9 else "neutral"
        for d in share_shift
    )
    return FailureSensitivity(
        models=results[0].models,
        levels=levels_t,
        expected_score=es,
        stderr=se,
        rank=rank,
        retention=retention,
        rank_shift=rank[lo] - rank[hi],
        share_shift=share_shift,
        profile=profile,
    )


# ------------------------------------------------------------ any format from ratings


def _round_robin_points(
    p: NDArray[np.float64], n: int, gen: np.random.Generator
) -> NDArray[np.float64]:
    m = p.shape[0]
    a, b = np.triu_indices(m, 1)
    pab = p[a, b]
    out = np.empty((n, m))
    chunk = max(1, _CHUNK_CELLS // max(1, len(a)))
    for lo in range(0, n, chunk):
        hi = min(n, lo + chunk)
        a_wins = gen.random((hi - lo, len(a))) < pab
        pts = np.zeros((hi - lo, m))
        for side, won in ((a, a_wins), (b, ~a_wins)):
            # each model appears in several pairs: sum with a matrix product
            onehot = np.zeros((len(side), m))
            onehot[np.arange(len(side)), side] = 1.0
            pts += won @ onehot
        out[lo:hi] = pts
    return out


def simulate_format(
    win: ArrayLike,
    *,
    format: str,
    rounds: int | None = None,
    iterations: int = 100_000,
    rng: Rng = None,
) -> NDArray[np.float64]:
    """Simulate whole tournaments of one format; return each model's score per run.

    Parameters
    ----------
    win : array_like, shape (M, M)
        Pairwise win probabilities (entrant order is the seed order for brackets).
    format : {"round_robin", "single_elimination", "swiss"}
        Round robin: every pair plays once, score = wins. Single elimination: standard
        seeding in input order, score = matches won (byes not counted). Swiss: the
        Competitive Swiss-system dynamics over ``rounds`` rounds, score = wins.
    rounds : int, optional
        Number of Swiss rounds (default ``ceil(log2 M)``).
    iterations : int, default 100_000
        Number of simulated tournaments.
    rng : int, Generator or None
        Source of randomness.

    Returns
    -------
    ndarray, shape (iterations, M)
    """
    p = win_matrix(win)
    m = p.shape[0]
    n = _check_iterations(iterations)
    gen = as_rng(rng)
    if format == "round_robin":
        return _round_robin_points(p, n, gen)
    if format == "single_elimination":
        won = bracket_samples(p, simulations=n, rng=gen).astype(np.float64)
        byes = (1 << int(np.ceil(np.log2(m)))) - m
        won[:, :byes] -= 1.0
        return won
    if format == "swiss":
        k = int(np.ceil(np.log2(m))) if rounds is None else rounds
        if isinstance(k, bool) or k < 1:
            raise InputError(f"rounds must be a positive integer; got {rounds!r}")
        wins = swiss_dynamics_samples(np.broadcast_to(p, (k, m, m)), iterations=n, rng=gen)
        return wins.astype(np.float64)
    raise InputError(f"format must be one of {', '.join(FORMATS)}; got {format!r}")


@dataclass(frozen=True)
class TournamentPrediction:
    """Predicted outcome of a tournament format from current ratings.

    Attributes
    ----------
    models : tuple of str
        Model names (input order).
    format : str
        The tournament format.
    expected_score : ndarray
        Expected wins (exact for round robin and single elimination).
    stderr : ndarray
        Standard error of ``expected_score`` (0 where exact).
    p_win : ndarray
        Probability of winning the tournament (first place shared equally on ties;
        exact for single elimination).
    p_win_stderr : ndarray
        Its standard error (0 where exact).
    iterations : int
        Simulations used for the Monte Carlo parts.
    """

    models: tuple[str, ...]
    format: str
    expected_score: NDArray[np.float64]
    stderr: NDArray[np.float64]
    p_win: NDArray[np.float64]
    p_win_stderr: NDArray[np.float64]
    iterations: int


def predict_tournament(
    ratings: ArrayLike,
    *,
    format: str,
    names: Sequence[str] | None = None,
    rounds: int | None = None,
    iterations: int = 100_000,
    scale: float = 400.0,
    base: float = 10.0,
    rng: Rng = None,
) -> TournamentPrediction:
    """Estimate the expected score and win probability of each model in a tournament format.

    Ratings are Bradley-Terry ratings on the Elo scale: ``P(i beats j) =
    1 / (1 + base**(-(r_i - r_j) / scale))``. A single-elimination bracket is seeded by
    rating (highest first).

    Parameters
    ----------
    ratings : array_like, shape (M,)
        Current ratings.
    format : {"round_robin", "single_elimination", "swiss"}
        See :func:`simulate_format`.
    names : sequence of str, optional
        Model names (unique).
    rounds : int, optional
        Swiss rounds (default ``ceil(log2 M)``).
    iterations : int, default 100_000
        Simulations for the Monte Carlo parts.
    scale, base : float
        Rating curve.
    rng : int, Generator or None
        Source of randomness.

    Returns
    -------
    TournamentPrediction
    """
    r = np.asarray(ratings, dtype=np.float64)
    if r.ndim != 1 or r.shape[0] < 2:
        raise InputError("ratings must be a list of at least 2 numbers")
    p = win_matrix(r, scale=scale, base=base)
    m = r.shape[0]
    models, perm = _canonical(names, m)
    n = _check_iterations(iterations)
    zero = np.zeros(m)
    if format == "single_elimination":
        seeds = np.lexsort((perm.argsort(), -r))
        bp = bracket_probabilities(p[np.ix_(seeds, seeds)])
        es, pw = np.empty(m), np.empty(m)
        es[seeds], pw[seeds] = bp.expected_wins, bp.p_champion
        return TournamentPrediction(models, format, es, zero, pw, zero.copy(), 0)
    pc = p[np.ix_(perm, perm)]
    scores = simulate_format(pc, format=format, rounds=rounds, iterations=n, rng=rng)
    inv = np.argsort(perm)
    scores = scores[:, inv]
    share = _first_share(scores)
    p_win = share.mean(axis=0)
    p_win_se = share.std(axis=0, ddof=1) / np.sqrt(n) if n > 1 else zero.copy()
    if format == "round_robin":
        es, se = p.sum(axis=1) - 0.5, zero.copy()
    else:
        es = scores.mean(axis=0)
        se = scores.std(axis=0, ddof=1) / np.sqrt(n) if n > 1 else zero.copy()
    return TournamentPrediction(models, format, es, se, p_win, p_win_se, n)


# ------------------------------------------------- expected score with its uncertainty


def _resample(battles: Battles, gen: np.random.Generator) -> Battles:
    """Draw the battles with replacement: a multinomial over the (pair, outcome) cells.

    Drawing N battles uniformly with replacement is that multinomial; drawing it over the
    cells makes the result depend only on the counts, so individual battles and their pair
    counts (or the same battles in another order) give the same resample for the same seed.
    """
    wins, ties = battles.pair_counts()
    iu, ju = np.triu_indices(battles.n_models, k=1)
    cells = np.concatenate([wins[iu, ju], wins[ju, iu], ties[iu, ju]])
    total = float(cells.sum())
    counts = (
        gen.multinomial(battles.n_battles, cells / total) if total > 0 else np.zeros(cells.size)
    )
    drawn = counts > 0
    a = np.concatenate([iu, ju, iu]).astype(np.int32)[drawn]
    b = np.concatenate([ju, iu, ju]).astype(np.int32)[drawn]
    outcome = np.repeat(np.array([A_WINS, A_WINS, TIE], dtype=np.int8), iu.size)[drawn]
    return Battles(battles.models, a, b, outcome, weight=counts[drawn].astype(np.float64))


def expected_score_rating(
    battles: Battles,
    *,
    format: str = "swiss",
    rounds: int | None = None,
    iterations: int = 20_000,
    draws: int = 100,
    confidence: float = 0.95,
    l2: float = 1.0,
    scale: float = 400.0,
    base: float = 10.0,
    rng: Rng = None,
) -> RatingResult:
    """Estimate the expected tournament score E[S] of each model from its battles, with an interval.

    The value is :func:`predict_tournament` on the Bradley-Terry ratings of the battles
    (FastChat's penalised fit with ``l2``), with ``iterations`` simulations. The interval
    accounts for both sources of error: the battles are resampled ``draws`` times (with
    replacement), the ratings refitted on each resample, and ``iterations // draws``
    tournaments (at least 1) simulated per refit; the interval is the percentile interval
    of the per-refit E[S] (Weibull plotting position ``q·(draws + 1)``), widened when
    needed to contain the value. Each refit's
    Monte Carlo error is ``√draws`` times that of the value, so the interval over-covers
    the simulation error rather than under-covering it. Round robin and single elimination
    need no simulation for E[S] (it is exact given the ratings); their interval is the
    rating uncertainty alone.

    Parameters
    ----------
    battles : Battles
        The battles (weighted entries are resampled as that many battles).
    format : {"round_robin", "single_elimination", "swiss"}
        The tournament (see :func:`simulate_format`).
    rounds : int, optional
        Swiss rounds (default ``ceil(log2 M)``).
    iterations : int, default 20_000
        Simulated tournaments for the value, and in all across the refits.
    draws : int, default 100
        Bootstrap resamples of the battles.
    confidence : float, default 0.95
        Interval coverage.
    l2 : float, default 1.0
        The Bradley-Terry penalty ``C`` (see :func:`ranking.bradley_terry.bradley_terry`);
        it keeps every refit finite.
    scale, base : float
        The rating curve.
    rng : int, Generator or None
        Source of randomness (simulations and resamples).

    Returns
    -------
    RatingResult
        ``method="expected_score"``, ``rating`` = E[S] with ``lower``/``upper``; ``extra``
        holds ``p_win`` (probability of winning the tournament) and ``stderr`` (the Monte
        Carlo standard error of the value alone). A lone model scores 0 with ``[0, 0]``.
    """
    from ranking.bradley_terry import bradley_terry

    if format not in FORMATS:
        raise InputError(f"format must be one of {', '.join(FORMATS)}; got {format!r}")
    if rounds is not None:
        rounds = check_positive_int("rounds", rounds)
    iterations = check_positive_int("iterations", iterations)
    draws = check_positive_int("draws", draws)
    confidence = check_probability("confidence", confidence)
    l2 = check_positive("l2", l2)
    scale = check_positive("scale", scale)
    base = check_base(base)
    gen = as_rng(rng)
    m = battles.n_models
    if m >= 2 and format == "swiss" and rounds is None:
        rounds = int(np.ceil(np.log2(m)))
    seed = seed_param(rng)
    params: dict[str, Any] = {
        "format": format,
        "rounds": rounds,
        "iterations": iterations,
        "draws": draws,
        "confidence": confidence,
        "ratings": "bt",
        "l2": l2,
        "scale": scale,
        "base": base,
        "seed": seed,
    }
    names = list(battles.models)
    if m < 2:
        zero = np.zeros(m)
        return RatingResult(
            method="expected_score",
            params=params,
            models=names,
            rating=zero,
            lower=zero.copy(),
            upper=zero.copy(),
            battles=battles.battles_per_model(),
            component=components(battles),
            n_battles=battles.n_battles,
            extra={"p_win": np.ones(m), "stderr": zero.copy()},
        )

    def predict(data: Battles, n: int) -> TournamentPrediction:
        ratings = bradley_terry(data, l2=l2, scale=scale, base=base).rating
        return predict_tournament(
            ratings,
            format=format,
            names=names,
            rounds=rounds,
            iterations=n,
            scale=scale,
            base=base,
            rng=gen,
        )

    point = predict(battles, iterations)
    per_draw = max(1, iterations // draws)
    samples = np.array(
        [predict(_resample(battles, gen), per_draw).expected_score for _ in range(draws)]
    )
    es = point.expected_score
    lower, upper = percentile_interval(samples, es, confidence=confidence)
    return RatingResult(
        method="expected_score",
        params=params,
        models=names,
        rating=es,
        lower=lower,
        upper=upper,
        battles=battles.battles_per_model(),
        component=components(battles),
        n_battles=battles.n_battles,
        extra={"p_win": point.p_win, "stderr": point.stderr},
    )


# ------------------------------------------------------- the rest of a running tournament


@dataclass(frozen=True)
class FixedRound:
    """A round whose pairs are known: ``pairs`` of model indices and ``byes`` (model, points)."""

    pairs: tuple[tuple[int, int], ...]
    byes: tuple[tuple[int, float], ...] = ()


@dataclass(frozen=True)
class ScoreRound:
    """A round paired by score.

    The models still in, by points (random order among equal points), meet their
    neighbour; the odd one out gets ``bye_points``.
    """

    bye_points: float = 0.0


@dataclass(frozen=True)
class RandomRound:
    """``k`` battles, each between a pair drawn uniformly among the models still in."""

    k: int


@dataclass(frozen=True)
class Cut:
    """After a round: the ``t`` models still in with the fewest points leave.

    Ties among equal points are broken at random.
    """

    t: int


@dataclass(frozen=True)
class KnockoutRounds:
    """The rest of a single-elimination bracket, from its current round.

    ``matches`` are the current round's matches in bracket order (``None``: a bye);
    ``decided`` holds the winner of each match already played (``None``: still to play).
    Winners of neighbouring matches meet in the next round, for ``rounds`` rounds in all;
    with ``third_place`` the last round also holds the match of the semi-final losers.
    """

    matches: tuple[tuple[int, int | None], ...]
    decided: tuple[int | None, ...]
    rounds: int
    third_place: bool = False


Step = FixedRound | ScoreRound | RandomRound | Cut | KnockoutRounds


@dataclass(frozen=True)
class RestPrediction:
    """Final scores of a tournament from its scores so far and the games still to play.

    Attributes
    ----------
    expected_score : ndarray, shape (M,)
        ``E[S]``: expected final points (points so far plus expected points to come), so
        it sums to the points the whole event distributes.
    stderr : ndarray, shape (M,)
        Monte Carlo standard error of ``expected_score``.
    p_win : ndarray, shape (M,)
        Probability of finishing first (shared equally on equal points; the champion of
        a knockout).
    p_alive : ndarray, shape (M, C)
        Probability of still being in after each :class:`Cut` or knockout round, in order.
    iterations : int
    """

    expected_score: NDArray[np.float64]
    stderr: NDArray[np.float64]
    p_win: NDArray[np.float64]
    p_alive: NDArray[np.float64]
    iterations: int


def _play(
    pts: NDArray[np.float64],
    p: NDArray[np.float64],
    a: NDArray[np.int64],
    b: NDArray[np.int64],
    gen: np.random.Generator,
) -> NDArray[np.bool_]:
    """Play games ``a[s, g]`` against ``b[s, g]`` in every run ``s`` and add the points.

    Returns whether ``a`` won each game.
    """
    a_wins = gen.random(a.shape) < p[a, b]
    rows = np.broadcast_to(np.arange(pts.shape[0])[:, None], a.shape)
    np.add.at(pts, (rows, a), a_wins)
    np.add.at(pts, (rows, b), ~a_wins)
    return a_wins


def _by_points(
    pts: NDArray[np.float64], alive: NDArray[np.bool_], gen: np.random.Generator, sign: float
) -> NDArray[np.int64]:
    """Each run's models still in, ordered by ``sign * points``, the others last.

    Ties among equal points are broken at random.
    """
    key = np.where(alive, sign * pts, np.inf)
    return np.lexsort((gen.random(pts.shape), key), axis=1)


def simulate_rest(
    win: ArrayLike,
    *,
    points: ArrayLike,
    steps: Sequence[Step],
    alive: ArrayLike | None = None,
    contenders: ArrayLike | None = None,
    iterations: int = 20_000,
    rng: Rng = None,
) -> RestPrediction:
    """Simulate the rest of a tournament: ``E[S]``, first-place and survival probabilities.

    Parameters
    ----------
    win : array_like, shape (M, M)
        Pairwise win probabilities (no draws are simulated).
    points : array_like, shape (M,)
        Points so far.
    steps : sequence of FixedRound, ScoreRound, RandomRound, Cut or KnockoutRounds
        What remains, in order.
    alive : array_like of bool, shape (M,), optional
        Models still in (default all).
    contenders : array_like of bool, shape (M,), optional
        Models that compete for first place (default all): ``p_win`` is the share of
        first place among them by points, and 0 for the others (a gauntlet's reference,
        which plays every game, is not ranked with the models it meets).
    iterations : int, default 20_000
        Simulated continuations.
    rng : int, Generator or None
        Source of randomness.

    Returns
    -------
    RestPrediction
        With no step left, ``expected_score`` is ``points`` exactly.
    """
    p = win_matrix(win)
    m = p.shape[0]
    start = np.asarray(points, dtype=np.float64)
    if start.shape != (m,) or not np.all(np.isfinite(start)):
        raise InputError(f"points must be {m} finite numbers, one per model")
    alive0 = np.ones(m, dtype=bool) if alive is None else np.asarray(alive, dtype=bool)
    if alive0.shape != (m,):
        raise InputError(f"alive must have {m} entries, one per model")
    compete = np.ones(m, dtype=bool) if contenders is None else np.asarray(contenders, dtype=bool)
    if compete.shape != (m,) or not compete.any():
        raise InputError(f"contenders must have {m} entries, one per model, at least one true")
    n = _check_iterations(iterations) if steps else 1
    gen = as_rng(rng)
    pts = np.broadcast_to(start, (n, m)).copy()
    live = np.broadcast_to(alive0, (n, m)).copy()
    rows = np.arange(n)[:, None]
    snapshots: list[NDArray[np.float64]] = []
    champion: NDArray[np.int64] | None = None
    for step in steps:
        if isinstance(step, FixedRound):
            if step.pairs:
                pairs = np.array(step.pairs, dtype=np.int64)
                _play(
                    pts,
                    p,
                    np.broadcast_to(pairs[:, 0], (n, len(pairs))),
                    np.broadcast_to(pairs[:, 1], (n, len(pairs))),
                    gen,
                )
            for who, bye in step.byes:
                pts[:, who] += bye
        elif isinstance(step, ScoreRound):
            k = int(live[0].sum())
            order = _by_points(pts, live, gen, -1.0)[:, :k]
            if k >= 2:
                _play(pts, p, order[:, 0 : k - 1 : 2], order[:, 1:k:2], gen)
            if k % 2:
                pts[rows[:, 0], order[:, k - 1]] += step.bye_points
        elif isinstance(step, RandomRound):
            ids = np.flatnonzero(live[0])
            if len(ids) >= 2 and step.k:
                one = gen.integers(0, len(ids), (n, step.k))
                other = (one + gen.integers(1, len(ids), (n, step.k))) % len(ids)
                _play(pts, p, ids[one], ids[other], gen)
        elif isinstance(step, Cut):
            if step.t:
                out = _by_points(pts, live, gen, 1.0)[:, : step.t]
                live[rows, out] = False
            snapshots.append(live.mean(axis=0))
        elif isinstance(step, KnockoutRounds):
            matches, third = list(step.matches), step.third_place
            winners = np.empty((n, len(matches)), dtype=np.int64)
            losers = np.full((n, len(matches)), -1, dtype=np.int64)
            for g, ((first, second), done) in enumerate(zip(matches, step.decided)):
                if second is None:  # a bye
                    winners[:, g] = first
                elif done is not None:
                    winners[:, g], losers[:, g] = done, second if done == first else first
                else:
                    won = _play(pts, p, np.full((n, 1), first), np.full((n, 1), second), gen)[:, 0]
                    winners[:, g], losers[:, g] = (
                        np.where(won, first, second),
                        np.where(won, second, first),
                    )
            for r in range(step.rounds):
                if r:
                    semis = winners, losers
                    a, b = winners[:, 0::2], winners[:, 1::2]
                    a_won = _play(pts, p, a, b, gen)
                    winners, losers = np.where(a_won, a, b), np.where(a_won, b, a)
                    if third and r == step.rounds - 1 and semis[1].shape[1] == 2:
                        _play(pts, p, semis[1][:, :1], semis[1][:, 1:], gen)
                live[:] = False
                final_with_third = third and r == step.rounds - 1 and winners.shape[1] == 2
                live[rows, winners[:, :1] if final_with_third else winners] = True
                snapshots.append(live.mean(axis=0))
            champion = winners[:, 0]
        else:
            raise InputError(f"unknown step {step!r}")
    mean = pts.mean(axis=0)
    sd = pts.std(axis=0, ddof=1) if n > 1 else np.zeros(m)
    if champion is not None:
        p_win = np.bincount(champion, minlength=m) / n
    else:
        p_win = _first_share(np.where(compete, pts, -np.inf)).mean(axis=0)
    p_alive = np.stack(snapshots, axis=1) if snapshots else np.zeros((m, 0))
    return RestPrediction(
        expected_score=mean,
        stderr=sd / np.sqrt(n),
        p_win=p_win,
        p_alive=p_alive,
        iterations=n if steps else 0,
    )
