"""Matchmaking for the open arena: which pairs to battle next.

The ``active`` policy scores every pair by how much a battle between them can still change
the ranking, in the spirit of K-Sort Arena's exploration-exploitation selection:

- *exploit*: pairs whose rating intervals overlap most. With ``sigma_i`` the standard error
  of model ``i`` (from its interval, or ``prior_sigma / sqrt(1 + n_i)`` without one), the
  overlap is ``exp(-(r_i - r_j)^2 / (2 (sigma_i^2 + sigma_j^2)))``: 1 for indistinguishable
  models, near 0 once they are clearly separated;
- *explore*: an upper-confidence bonus ``explore * (1/sqrt(1 + n_i) + 1/sqrt(1 + n_j) +
  1/sqrt(1 + n_ij))`` for under-sampled models and pairs; models with fewer than
  ``min_battles`` battles (newly submitted) get ``new_bonus`` on every pair.

Pairs are then drawn without replacement with probability proportional to their score
(Gumbel top-k), so the arena keeps some variety; ``uniform`` draws pairs uniformly.
:func:`matchmaking_simulate` measures how many battles each policy needs to reach a target
ranking accuracy (Kendall's tau or Spearman's rho against the true strengths).

References
----------
.. [1] Li, J. et al. (2024). K-Sort Arena: Efficient and Reliable Benchmarking for
   Generative Models via K-wise Human Preferences. arXiv:2408.14468.
.. [2] Chiang, W.-L. et al. (2024). Chatbot Arena: An Open Platform for Evaluating LLMs by
   Human Preference (active sampling rule). arXiv:2403.04132.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ranking._validation import as_rng
from ranking.battles import Battles
from ranking.errors import InputError
from ranking.types import A_WINS, B_WINS, TIE

__all__ = [
    "MatchmakingRun",
    "matchmaking_simulate",
    "pair_scores",
    "select_pairs",
    "uniform_pairs",
]

POLICIES = ("active", "uniform")


def _vector(name: str, value: ArrayLike | None, m: int) -> NDArray[np.float64] | None:
    if value is None:
        return None
    v = np.asarray(value, dtype=np.float64)
    if v.shape != (m,):
        raise InputError(f"{name} must have {m} entries, one per model; got shape {v.shape}")
    return v


def pair_scores(
    rating: ArrayLike,
    *,
    lower: ArrayLike | None = None,
    upper: ArrayLike | None = None,
    n_battles: ArrayLike | None = None,
    pair_counts: ArrayLike | None = None,
    explore: float = 0.3,
    prior_sigma: float = 200.0,
    min_battles: int = 5,
    new_bonus: float = 10.0,
    confidence_z: float = 1.96,
) -> NDArray[np.float64]:
    """Compute the selection score of every pair (symmetric, zero diagonal).

    Parameters
    ----------
    rating : array_like, shape (M,)
        Current ratings (Elo scale). Missing values (NaN) are treated as the mean rating.
    lower, upper : array_like, shape (M,), optional
        Interval bounds at ``confidence_z`` standard errors (NaN or absent: prior).
    n_battles : array_like, shape (M,), optional
        Battles per model (default 0).
    pair_counts : array_like, shape (M, M), optional
        Battles per pair (symmetric; default 0).
    explore : float, default 0.3
        Weight of the exploration bonus.
    prior_sigma : float, default 200
        Rating standard error of a model with no battles and no interval.
    min_battles : int, default 5
        Models with fewer battles count as new.
    new_bonus : float, default 10
        Added to every pair with a new model.
    confidence_z : float, default 1.96
        Half-width of the given intervals in standard errors.

    Returns
    -------
    ndarray, shape (M, M)
    """
    r = np.asarray(rating, dtype=np.float64)
    if r.ndim != 1 or r.shape[0] < 2:
        raise InputError("rating must be a list of at least 2 numbers")
    m = r.shape[0]
    if explore < 0 or prior_sigma <= 0 or new_bonus < 0 or confidence_z <= 0:
        raise InputError(
            "explore and new_bonus must be non-negative; prior_sigma and confidence_z positive"
        )
    mean = float(np.nanmean(r)) if np.isfinite(r).any() else 0.0
    r = np.where(np.isfinite(r), r, mean)
    n = _vector("n_battles", n_battles, m)
    n = np.zeros(m) if n is None else np.maximum(n, 0.0)
    lo, up = _vector("lower", lower, m), _vector("upper", upper, m)
    sigma = prior_sigma / np.sqrt(1.0 + n)
    if lo is not None and up is not None:
        width = (up - lo) / (2.0 * confidence_z)
        ok = np.isfinite(width) & (width > 0)
        sigma = np.where(ok, width, sigma)
    pc = np.zeros((m, m)) if pair_counts is None else np.asarray(pair_counts, dtype=np.float64)
    if pc.shape != (m, m):
        raise InputError(f"pair_counts must be {m} x {m}")
    pc = np.maximum(pc, pc.T)
    diff2 = (r[:, None] - r[None, :]) ** 2
    var = sigma[:, None] ** 2 + sigma[None, :] ** 2
    exploit = np.exp(-diff2 / (2.0 * var))
    bonus = explore * (
        1.0 / np.sqrt(1.0 + n)[:, None] + 1.0 / np.sqrt(1.0 + n)[None, :] + 1.0 / np.sqrt(1.0 + pc)
    )
    new = n < min_battles
    score = exploit + bonus + new_bonus * (new[:, None] | new[None, :])
    np.fill_diagonal(score, 0.0)
    return score


def select_pairs(
    scores: ArrayLike, k: int, *, rng: int | np.random.Generator | None = None, greedy: bool = False
) -> list[tuple[int, int]]:
    """Draw ``k`` distinct pairs ``(i, j)``, ``i < j``, with probability proportional to score.

    Uses Gumbel top-k (sampling without replacement); ``greedy`` takes the top scores
    (ties broken at random). Pairs with score 0 are never drawn; fewer than ``k`` pairs
    come back when fewer have a positive score.
    """
    s = np.asarray(scores, dtype=np.float64)
    if s.ndim != 2 or s.shape[0] != s.shape[1]:
        raise InputError("scores must be a square matrix")
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 0:
        raise InputError(f"k must be a non-negative integer; got {k!r}")
    if np.any(s < 0) or not np.all(np.isfinite(s)):
        raise InputError("scores must be finite and non-negative")
    gen = as_rng(rng)
    iu, ju = np.triu_indices(s.shape[0], k=1)
    w = s[iu, ju]
    positive = w > 0
    iu, ju, w = iu[positive], ju[positive], w[positive]
    noise = gen.random(w.shape[0])
    keys = np.log(w) + (1e-9 * noise if greedy else -np.log(-np.log(np.clip(noise, 1e-300, 1.0))))
    top = np.argsort(-keys, kind="stable")[: int(k)]
    return [(int(iu[t]), int(ju[t])) for t in top]


def uniform_pairs(
    m: int, k: int, *, rng: int | np.random.Generator | None = None
) -> list[tuple[int, int]]:
    """``k`` distinct pairs drawn uniformly among the ``m (m - 1) / 2`` pairs."""
    if isinstance(m, bool) or not isinstance(m, int | np.integer) or m < 2:
        raise InputError(f"m must be an integer of at least 2; got {m!r}")
    return select_pairs(np.ones((m, m)) - np.eye(m), k, rng=rng)


@dataclass(frozen=True)
class MatchmakingRun:
    """One simulated arena run.

    Attributes
    ----------
    policy : str
    battles : ndarray of int
        Battle counts at which accuracy was measured.
    accuracy : ndarray of float
        Rank correlation of the fitted ratings with the true strengths at those counts.
    battles_to_target : int or None
        First count whose accuracy reached the target (``None`` if never within budget).
    """

    policy: str
    battles: NDArray[np.int64]
    accuracy: NDArray[np.float64]
    battles_to_target: int | None


def _rank_corr(x: NDArray[np.float64], y: NDArray[np.float64], metric: str) -> float:
    from scipy.stats import kendalltau, spearmanr

    if metric == "kendall":
        return float(kendalltau(x, y).statistic)
    return float(spearmanr(x, y).statistic)


def matchmaking_simulate(
    strength: ArrayLike,
    *,
    policy: str = "active",
    budget: int = 2000,
    batch: int = 20,
    target: float = 0.9,
    metric: str = "kendall",
    tie_rate: float = 0.1,
    fit: Callable[
        [Battles],
        tuple[NDArray[np.float64], NDArray[np.float64] | None, NDArray[np.float64] | None],
    ]
    | None = None,
    explore: float = 0.3,
    stop_at_target: bool = True,
    rng: int | np.random.Generator | None = None,
) -> MatchmakingRun:
    """Simulate an arena over models with known strengths and measure ranking accuracy.

    Battles are drawn in batches of ``batch`` pairs by ``policy``; outcomes follow
    Bradley-Terry on ``strength`` (Elo scale) with ties at rate ``tie_rate * 4 p (1 - p)``.
    After each batch the ratings are refitted with ``fit(battles) -> (rating, lower,
    upper)`` (default: ``ranking.bradley_terry`` with sandwich intervals) and compared with
    the truth by ``metric`` (``kendall`` or ``spearman``).
    """
    s = np.asarray(strength, dtype=np.float64)
    if s.ndim != 1 or s.shape[0] < 3:
        raise InputError("strength must list at least 3 models")
    if policy not in POLICIES:
        raise InputError(f"policy must be one of {', '.join(POLICIES)}; got {policy!r}")
    if metric not in ("kendall", "spearman"):
        raise InputError(f"metric must be 'kendall' or 'spearman'; got {metric!r}")
    if budget < 1 or batch < 1:
        raise InputError("budget and batch must be positive")
    gen = as_rng(rng)
    m = s.shape[0]
    models = tuple(f"m{i}" for i in range(m))
    if fit is None:
        from ranking.bradley_terry import bradley_terry

        def fit(
            b: Battles,
        ) -> tuple[NDArray[np.float64], NDArray[np.float64] | None, NDArray[np.float64] | None]:
            res = bradley_terry(b, l2=1.0, ci="sandwich")
            return res.rating, res.lower, res.upper

    a_list: list[int] = []
    b_list: list[int] = []
    o_list: list[int] = []
    rating = np.full(m, np.nan)
    lower = upper = None
    counts: list[int] = []
    accs: list[float] = []
    reached: int | None = None
    while len(a_list) < budget:
        k = min(batch, budget - len(a_list))
        if policy == "uniform":
            pairs = [
                (int(x), int(y))
                for x, y in (gen.choice(m, size=2, replace=False) for _ in range(k))
            ]
        else:
            n = np.bincount(np.array(a_list + b_list, dtype=np.int64), minlength=m).astype(
                np.float64
            )
            pc = np.zeros((m, m))
            if a_list:
                np.add.at(pc, (np.array(a_list), np.array(b_list)), 1.0)
            sc = pair_scores(
                rating,
                lower=lower,
                upper=upper,
                n_battles=n,
                pair_counts=pc + pc.T,
                explore=explore,
            )
            pairs = select_pairs(sc, k, rng=gen)
        for i, j in pairs:
            if gen.random() < 0.5:
                i, j = j, i
            p = 1.0 / (1.0 + 10.0 ** (-(s[i] - s[j]) / 400.0))
            if gen.random() < tie_rate * 4.0 * p * (1.0 - p):
                o = TIE
            else:
                o = A_WINS if gen.random() < p else B_WINS
            a_list.append(i)
            b_list.append(j)
            o_list.append(o)
        battles = Battles(
            models=models,
            a=np.array(a_list, dtype=np.int32),
            b=np.array(b_list, dtype=np.int32),
            outcome=np.array(o_list, dtype=np.int8),
        )
        played = np.bincount(battles.a, minlength=m) + np.bincount(battles.b, minlength=m)
        if np.all(played > 0):
            rating, lower, upper = fit(battles)
            acc = _rank_corr(np.asarray(rating), s, metric)
        else:
            acc = float("nan")
        counts.append(len(a_list))
        accs.append(acc)
        if reached is None and np.isfinite(acc) and acc >= target:
            reached = len(a_list)
            if stop_at_target:
                break
    return MatchmakingRun(
        policy=policy,
        battles=np.array(counts, dtype=np.int64),
        accuracy=np.array(accs, dtype=np.float64),
        battles_to_target=reached,
    )
