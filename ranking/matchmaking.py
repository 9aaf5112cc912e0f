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

*Sampling to a target* (:func:`sampling_status`, :func:`select_target_pairs`): votes stop
going to pairs whose order is settled (the interval of their difference excludes 0) and to
models whose interval is already narrower than a target width, except for the least settled
pair joining two groups of open pairs (intervals are relative to the mean of all models, so
they need votes across groups); when that leaves too few pairs, the widest-interval models
are paired, so the arena never stalls.
:func:`target_simulate` measures the votes needed until every interval is that narrow.

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
    "SamplingStatus",
    "TargetRun",
    "matchmaking_simulate",
    "pair_scores",
    "sampling_status",
    "select_pairs",
    "select_target_pairs",
    "target_simulate",
    "uniform_pairs",
]

POLICIES = ("active", "uniform")
#: How sampling to a target weighs the eligible pairs: by need alone (see
#: :func:`select_target_pairs`).
TARGET_SCORES = "need"


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


def _simulated_models(
    strength: ArrayLike, *, budget: int, batch: int
) -> tuple[NDArray[np.float64], tuple[str, ...]]:
    """Check a simulation's true strengths and budget; name the models ``m0, m1, ...``."""
    s = np.asarray(strength, dtype=np.float64)
    if s.ndim != 1 or s.shape[0] < 3:
        raise InputError("strength must list at least 3 models")
    if budget < 1 or batch < 1:
        raise InputError("budget and batch must be positive")
    return s, tuple(f"m{i}" for i in range(s.shape[0]))


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
    s, models = _simulated_models(strength, budget=budget, batch=batch)
    if policy not in POLICIES:
        raise InputError(f"policy must be one of {', '.join(POLICIES)}; got {policy!r}")
    if metric not in ("kendall", "spearman"):
        raise InputError(f"metric must be 'kendall' or 'spearman'; got {metric!r}")
    gen = as_rng(rng)
    m = s.shape[0]
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


# --------------------------------------------------------------------------- sampling to a target


@dataclass(frozen=True)
class SamplingStatus:
    """Which models and pairs still need votes, from the current intervals.

    Attributes
    ----------
    width : ndarray, shape (M,)
        Interval width ``upper - lower`` (``inf`` when a bound is missing or unbounded).
    sampling : ndarray of bool, shape (M,)
        The model's interval is wider than the target (or unknown): it is still sampled.
    settled : ndarray of bool, shape (M, M)
        The order of the pair is settled: the ``confidence`` interval of the difference
        excludes 0 (symmetric, false on the diagonal).
    eligible : ndarray of bool, shape (M, M)
        Pairs votes may go to: not settled and with at least one model still sampled; a
        sampled model whose every pair is settled keeps all its pairs (else it would never
        narrow); and the *bridges* below.
    bridge : ndarray of bool, shape (M, M)
        Settled pairs kept to connect the groups the other eligible pairs fall into: the
        least settled pair (smallest ``|r_i - r_j| / se``) joining two groups, Kruskal
        style, among pairs with a model still sampled. The intervals are relative to the
        mean of all models, so without votes across groups they stop narrowing (a stall
        seen in simulation).
    need : ndarray, shape (M,)
        How many times too wide a sampled model's interval is (its width at the stop level
        over ``target_width``, at most 10; 1 for every model with ``target_width=0``), 0 for
        a model at target.
    """

    width: NDArray[np.float64]
    sampling: NDArray[np.bool_]
    need: NDArray[np.float64]
    settled: NDArray[np.bool_]
    eligible: NDArray[np.bool_]
    bridge: NDArray[np.bool_]


def sampling_status(
    rating: ArrayLike,
    *,
    lower: ArrayLike,
    upper: ArrayLike,
    target_width: float,
    confidence: float = 0.95,
    interval_confidence: float = 0.95,
    stop_confidence: float | None = None,
) -> SamplingStatus:
    """Which models and pairs the arena still spends votes on.

    The difference of two models is judged from their own intervals, taken as normal with
    standard errors ``(rating - lower) / z`` below and ``(upper - rating) / z`` above
    (``z`` the quantile of ``interval_confidence``; profile intervals may be asymmetric):
    with ``r_i >= r_j``, the pair is settled when

        r_i - r_j > z_c · sqrt(s_i,below^2 + s_j,above^2),   z_c = Phi^-1(1 - (1 - confidence)/2).

    This ignores the covariance of the two estimates (the board's ratings are relative to
    the mean of the group, which makes them slightly negatively correlated, so the true
    standard error of a difference is up to ``sqrt(M / (M - 1))`` times larger). How often
    a settled order is wrong is measured in simulation (see ``bench/bench_sampling.py``).

    Parameters
    ----------
    rating, lower, upper : array_like, shape (M,)
        Ratings and interval bounds (NaN or infinite bounds: unknown, never settled).
    target_width : float
        A model whose interval, taken at ``stop_confidence``, is at most this wide
        (``upper - lower``) needs no more votes for itself; ``0`` keeps every model sampled.
    confidence : float, default 0.95
        Level at which a pair's order counts as settled.
    interval_confidence : float, default 0.95
        Level of the given intervals.
    stop_confidence : float, optional
        Level of the interval that must fit in ``target_width`` (default: the given
        intervals' own). The widths are rescaled by the normal approximation,
        ``width · z(stop_confidence) / z(interval_confidence)``. A higher level asks for more
        votes; ``bench/bench_sampling.py`` measures what it does to coverage at the stop
        (at 99% it did not raise coverage in the ``runaway`` scenario).
    """
    from scipy.stats import norm

    r = np.asarray(rating, dtype=np.float64)
    if r.ndim != 1 or r.shape[0] < 2:
        raise InputError("rating must be a list of at least 2 numbers")
    m = r.shape[0]
    lo, up = _vector("lower", lower, m), _vector("upper", upper, m)
    assert lo is not None and up is not None
    if not np.isfinite(target_width) or target_width < 0:
        raise InputError(f"target_width must be a non-negative number; got {target_width!r}")
    if stop_confidence is None:
        stop_confidence = interval_confidence
    for name, value in (
        ("confidence", confidence),
        ("interval_confidence", interval_confidence),
        ("stop_confidence", stop_confidence),
    ):
        if not 0.0 < value < 1.0:
            raise InputError(f"{name} must be strictly between 0 and 1; got {value!r}")
    known = np.isfinite(r) & np.isfinite(lo) & np.isfinite(up)
    width = np.where(known, up - lo, np.inf)
    z_int = float(norm.ppf(0.5 + interval_confidence / 2.0))
    stop_width = width * (float(norm.ppf(0.5 + stop_confidence / 2.0)) / z_int)
    sampling = ~(stop_width <= target_width)
    z_c = float(norm.ppf(0.5 + confidence / 2.0))
    rr = np.where(known, r, 0.0)
    below = np.where(known, np.maximum(rr - np.where(known, lo, 0.0), 0.0) / z_int, np.inf)
    above = np.where(known, np.maximum(np.where(known, up, 0.0) - rr, 0.0) / z_int, np.inf)
    diff = rr[:, None] - rr[None, :]  # i above j when positive
    with np.errstate(invalid="ignore"):
        se = np.sqrt(below[:, None] ** 2 + above[None, :] ** 2)
        ahead = (diff > 0) & (diff > z_c * se)
    settled = (ahead | ahead.T) & known[:, None] & known[None, :]
    np.fill_diagonal(settled, False)
    off = ~np.eye(m, dtype=bool)
    open_pair = ~settled & off
    eligible = open_pair & (sampling[:, None] | sampling[None, :])
    orphan = sampling & ~(open_pair.any(axis=1))
    eligible |= (orphan[:, None] | orphan[None, :]) & off
    bridge = _bridges(eligible, settled & (sampling[:, None] | sampling[None, :]), diff, se)
    eligible |= bridge
    ratio = np.minimum(stop_width / target_width, 10.0) if target_width > 0 else np.ones(m)
    need = np.where(sampling, ratio, 0.0)
    return SamplingStatus(
        width=width,
        sampling=sampling,
        need=need,
        settled=settled,
        eligible=eligible,
        bridge=bridge,
    )


def _bridges(
    eligible: NDArray[np.bool_],
    candidate: NDArray[np.bool_],
    diff: NDArray[np.float64],
    se: NDArray[np.float64],
) -> NDArray[np.bool_]:
    """Candidate pairs that join the components of ``eligible``, least settled first."""
    m = eligible.shape[0]
    parent = list(range(m))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for i, j in zip(*np.nonzero(np.triu(eligible, 1))):
        parent[find(int(i))] = find(int(j))
    iu, ju = np.nonzero(np.triu(candidate, 1))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.abs(diff[iu, ju]) / np.where(diff[iu, ju] > 0, se[iu, ju], se[ju, iu])
    bridge = np.zeros((m, m), dtype=bool)
    for t in np.argsort(z, kind="stable"):
        a, b = find(int(iu[t])), find(int(ju[t]))
        if a != b:
            parent[a] = b
            bridge[iu[t], ju[t]] = bridge[ju[t], iu[t]] = True
    return bridge


def select_target_pairs(
    scores: ArrayLike | None,
    status: SamplingStatus,
    k: int,
    *,
    rng: int | np.random.Generator | None = None,
) -> list[tuple[int, int]]:
    """``k`` pairs: drawn among the eligible pairs by need, then the widest-interval ones.

    Eligible pairs (see :func:`sampling_status`) are drawn as :func:`select_pairs` does,
    with probability proportional to ``need_i + need_j`` (votes go first where intervals are
    furthest above the target; a new model, with no interval, has the largest need), times
    ``scores`` when given, a bridge's score raised to at least the median open pair's; when
    fewer than ``k`` are available, the rest are the pairs with the largest summed interval
    width (unknown widths first), so the arena keeps serving battles and tightens the widest
    intervals even once every target is met.

    The arena passes no ``scores`` (:data:`TARGET_SCORES`): draws that depend on the current
    ratings (:func:`pair_scores`' overlap term) draw a pair less once its gap looks large,
    a known source of bias in adaptively sampled data. In ``bench/bench_sampling.py`` (40
    seeds) drawing by need alone took 7 % fewer votes with one model far above the rest and
    about as many otherwise; the coverage of the intervals at the stop was the same within
    the noise (about ±0.03), and below nominal in that ``runaway`` scenario under both
    (0.91-0.93).
    """
    m = status.width.shape[0]
    s = np.ones((m, m)) - np.eye(m) if scores is None else np.asarray(scores, dtype=np.float64)
    if s.shape != (m, m):
        raise InputError(f"scores must be {m} x {m}, like the status")
    gen = as_rng(rng)
    weight = status.need[:, None] + status.need[None, :]
    open_scores = s[status.eligible & ~status.bridge]
    if open_scores.size:  # a bridge is drawn at least as often as a typical open pair
        s = np.where(status.bridge, np.maximum(s, float(np.median(open_scores))), s)
    chosen = select_pairs(np.where(status.eligible, s * weight, 0.0), k, rng=gen)
    if len(chosen) >= k:
        return chosen
    taken = set(chosen)
    w = np.where(np.isfinite(status.width), status.width, 1e12)
    iu, ju = np.triu_indices(m, k=1)
    total = w[iu] + w[ju]
    order = np.lexsort((gen.random(iu.shape[0]), -total))
    for t in order:
        if len(chosen) >= k:
            break
        pair = (int(iu[t]), int(ju[t]))
        if pair not in taken:
            chosen.append(pair)
            taken.add(pair)
    return chosen


@dataclass(frozen=True)
class TargetRun:
    """One simulated arena run sampled until every interval is at most ``target_width``.

    Attributes
    ----------
    policy : str
        ``"target"`` or ``"uniform"``.
    battles_to_target : int or None
        Battles played when every model's interval first was at most the target width
        (``None``: not within the budget).
    battles : ndarray of int
        Battle counts at each refit.
    max_width : ndarray of float
        Widest interval at each refit.
    coverage : float
        Share of models whose interval held the true (mean-centred) strength at the end.
    settled_pairs, settled_wrong : int
        Pairs the final status calls settled, and how many of them in the wrong order.
    """

    policy: str
    battles_to_target: int | None
    battles: NDArray[np.int64]
    max_width: NDArray[np.float64]
    coverage: float
    settled_pairs: int
    settled_wrong: int


def target_simulate(
    strength: ArrayLike,
    *,
    target_width: float,
    policy: str = "target",
    confidence: float = 0.95,
    budget: int = 20000,
    batch: int = 100,
    pool: int = 10,
    tie_rate: float = 0.1,
    history: Battles | None = None,
    scores: str = TARGET_SCORES,
    stop_confidence: float | None = None,
    rng: int | np.random.Generator | None = None,
) -> TargetRun:
    """Simulate the arena until every model's interval is at most ``target_width`` wide.

    Outcomes follow Bradley-Terry on ``strength`` (Elo scale), ties at rate
    ``tie_rate · 4p(1 - p)``. After each ``batch`` of battles the ratings are refitted as the
    arena's board does (unpenalised Bradley-Terry, ties half, 95% profile-likelihood
    intervals). ``policy="target"`` draws the next batch among the pairs
    :func:`sampling_status` leaves eligible (:func:`select_target_pairs`), by need alone
    (``scores="need"``, the arena's rule) or also by :func:`pair_scores` (``"pair_scores"``,
    the earlier rule); ``"uniform"`` draws pairs uniformly. Until
    every model has played, pairs are drawn uniformly under both. The run stops when every
    interval, taken at ``stop_confidence`` (see :func:`sampling_status`), is at most
    ``target_width`` wide.
    """
    from ranking.bradley_terry import bradley_terry

    s, models = _simulated_models(strength, budget=budget, batch=batch)
    if policy not in ("target", "uniform"):
        raise InputError(f"policy must be 'target' or 'uniform'; got {policy!r}")
    if scores not in ("need", "pair_scores"):
        raise InputError(f"scores must be 'need' or 'pair_scores'; got {scores!r}")
    gen = as_rng(rng)
    m = s.shape[0]
    a = np.zeros(0, dtype=np.int32)
    b = np.zeros(0, dtype=np.int32)
    o = np.zeros(0, dtype=np.int8)
    if history is not None:
        if history.n_models != m or history.weight is not None:
            raise InputError(f"history must be unweighted battles among the same {m} models")
        a, b, o = history.a.astype(np.int32), history.b.astype(np.int32), history.outcome
    start = a.shape[0]
    counts: list[int] = []
    widths: list[float] = []
    reached: int | None = None
    status: SamplingStatus | None = None
    rating = lower = upper = None
    while a.shape[0] - start < budget:
        k = min(batch, budget - (a.shape[0] - start))
        if policy == "uniform" or status is None or rating is None:
            first = gen.integers(0, m, size=k)
            second = (first + gen.integers(1, m, size=k)) % m
        else:
            sc = None
            if scores == "pair_scores":
                n = (np.bincount(a, minlength=m) + np.bincount(b, minlength=m)).astype(np.float64)
                pc = np.zeros((m, m))
                np.add.at(pc, (a, b), 1.0)
                sc = pair_scores(
                    rating, lower=lower, upper=upper, n_battles=n, pair_counts=pc + pc.T
                )
            pairs: list[tuple[int, int]] = []
            while len(pairs) < k:  # one arena pool at a time: distinct pairs within a pool
                pairs += select_target_pairs(sc, status, pool, rng=gen)
            pairs = pairs[:k]
            first = np.array([i for i, _ in pairs])
            second = np.array([j for _, j in pairs])
        swap = gen.random(k) < 0.5
        first, second = np.where(swap, second, first), np.where(swap, first, second)
        p = 1.0 / (1.0 + 10.0 ** (-(s[first] - s[second]) / 400.0))
        tie = gen.random(k) < tie_rate * 4.0 * p * (1.0 - p)
        win = gen.random(k) < p
        out = np.where(tie, TIE, np.where(win, A_WINS, B_WINS)).astype(np.int8)
        a = np.concatenate([a, first.astype(np.int32)])
        b = np.concatenate([b, second.astype(np.int32)])
        o = np.concatenate([o, out])
        played = np.bincount(a, minlength=m) + np.bincount(b, minlength=m)
        if not np.all(played > 0):
            continue
        res = bradley_terry(
            Battles(models=models, a=a, b=b, outcome=o), ci="profile", confidence=0.95
        )
        rating, lower, upper = res.rating, res.lower, res.upper
        assert lower is not None and upper is not None
        status = sampling_status(
            rating,
            lower=lower,
            upper=upper,
            target_width=target_width,
            confidence=confidence,
            stop_confidence=stop_confidence,
        )
        counts.append(int(a.shape[0] - start))
        widths.append(float(status.width.max()))
        if not status.sampling.any():
            reached = int(a.shape[0] - start)
            break
    coverage, n_settled, wrong = float("nan"), 0, 0
    if rating is not None and lower is not None and upper is not None and status is not None:
        truth = s - s.mean() + float(np.mean(rating))
        coverage = float(np.mean((lower <= truth) & (truth <= upper)))
        iu, ju = np.triu_indices(m, k=1)
        sett = status.settled[iu, ju]
        n_settled = int(sett.sum())
        flipped = np.sign(rating[iu] - rating[ju]) != np.sign(s[iu] - s[ju])
        wrong = int((sett & flipped).sum())
    return TargetRun(
        policy=policy,
        battles_to_target=reached,
        battles=np.array(counts, dtype=np.int64),
        max_width=np.array(widths, dtype=np.float64),
        coverage=coverage,
        settled_pairs=n_settled,
        settled_wrong=wrong,
    )
