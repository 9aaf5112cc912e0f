"""K-wise votes (K-Sort Arena): one vote ranks the answers of K models to one prompt.

A K-wise vote shows K answers (K from 3 to :data:`MAX_K`) and the voter orders all of them,
best first, without ties (a strict ranking: every implied pair is decided, and the vote
page asks for one click or key per answer). Two ratings are computed from such votes:

* **OpenSkill free-for-all** (:func:`kwise_openskill`), the analogue of K-Sort Arena's own
  rating: each model's skill is a Gaussian belief updated in closed form by each K-wise vote
  (one call of the openskill package's ``rate(teams, ranks=...)`` per vote, the K models as
  K one-player teams), shown with the conservative score ``μ - 3σ`` beside μ.
* **Bradley-Terry on the implied pairs** (:func:`kwise_bradley_terry`), by full rank
  breaking: a ranking of K answers implies K(K-1)/2 decided pairs (each answer beats every
  answer ranked below it). Under the Plackett-Luce model the probability that i is ranked
  above j in a full ranking is exactly the Bradley-Terry probability θ_i / (θ_i + θ_j)
  (Luce's choice axiom), so the pairs give unbiased estimating equations and the
  composite-likelihood (Bradley-Terry) optimum on them is consistent for the Plackett-Luce
  strengths [3]_, [4]_. The pairs of one vote are dependent, so they do not count as
  K(K-1)/2 independent votes: each implied pair is weighted ``1 / (K - 1)``, so every answer
  of a vote carries a total weight of one comparison and a vote the weight of K/2 pairwise
  votes (uniform weights leave the K-wise optimum unchanged; they set how K-wise and
  pairwise votes mix and the effective battle counts). Intervals resample whole votes
  (percentile bootstrap), which keeps the dependence between a vote's pairs.

References
----------
.. [1] Z. Li et al., "K-Sort Arena: Efficient and Reliable Benchmarking for Generative
   Models via K-wise Human Preferences", arXiv:2408.14468 (2024): K-wise free-for-all votes,
   Gaussian capability beliefs with Bayesian updates and a conservative score.
.. [2] R. C. Weng, C.-J. Lin, "A Bayesian Approximation Method for Online Ranking", JMLR 12
   (2011); openskill.py (the package's ``rate`` with ``ranks``).
.. [3] H. Azari Soufiani, D. C. Parkes, L. Xia, "Computing Parametric Ranking Models via
   Rank-Breaking", ICML 2014: full breaking of Plackett-Luce rankings into pairwise
   comparisons gives a consistent estimator.
.. [4] A. Khetan, S. Oh, "Data-driven Rank Breaking for Efficient Rank Aggregation", JMLR 17
   (2016): weighting the broken pairs so a ranking counts by its information, not by its
   number of pairs.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ranking._validation import as_rng, check_positive_int, check_probability, seed_param
from ranking.battles import Battles, components
from ranking.errors import InputError
from ranking.types import A_WINS, RatingResult

#: Fewest and most answers of one K-wise vote (the service serves K = 3 or 4).
MIN_K = 3
MAX_K = 10


@dataclass(frozen=True)
class KwiseVotes:
    """K-wise votes: each one the models shown (in the order shown) and the rank of each.

    Attributes
    ----------
    models : tuple of str
        Model names; ``shown`` indexes into it.
    shown : tuple of tuple of int
        Per vote, the K distinct models in the order the voter saw them.
    ranks : tuple of tuple of int
        Per vote, the rank of each shown model: a permutation of 1..K, 1 = best.
    tstamp : ndarray of float64 or None
        Seconds, one per vote; present only when every vote has one.
    """

    models: tuple[str, ...]
    shown: tuple[tuple[int, ...], ...]
    ranks: tuple[tuple[int, ...], ...]
    tstamp: NDArray[np.float64] | None = None

    def __post_init__(self) -> None:
        """Coerce the fields and refuse malformed votes (with the vote's index)."""
        set_ = object.__setattr__
        set_(self, "models", tuple(str(m) for m in self.models))
        set_(self, "shown", tuple(tuple(int(x) for x in s) for s in self.shown))
        set_(self, "ranks", tuple(tuple(int(x) for x in r) for r in self.ranks))
        if len(set(self.models)) != len(self.models):
            raise InputError("KwiseVotes: model names must be unique")
        if len(self.shown) != len(self.ranks):
            raise InputError("KwiseVotes: shown and ranks must have one entry per vote")
        m = len(self.models)
        for v, (shown, ranks) in enumerate(zip(self.shown, self.ranks)):
            problem = ranking_problem(len(shown), ranks)
            if problem is None and len(set(shown)) != len(shown):
                problem = "the models of a vote must be distinct"
            if problem is None and not all(0 <= x < m for x in shown):
                problem = "model indices must index models"
            if problem is not None:
                raise InputError(f"KwiseVotes: vote {v}: {problem}")
        if self.tstamp is not None:
            set_(self, "tstamp", np.asarray(self.tstamp, dtype=np.float64))
            if self.tstamp.shape != (len(self.shown),) or not np.isfinite(self.tstamp).all():
                raise InputError("KwiseVotes: tstamp must hold one finite number per vote")

    def __len__(self) -> int:
        """Return the number of votes."""
        return len(self.shown)

    def best_first(self) -> list[tuple[int, ...]]:
        """Each vote's model indices ordered best first."""
        return [tuple(x for _, x in sorted(zip(r, s))) for s, r in zip(self.shown, self.ranks)]

    def with_models(self, models: Iterable[str]) -> KwiseVotes:
        """Return the same votes indexed into ``models``, which must contain every name."""
        names = tuple(models)
        position = {name: i for i, name in enumerate(names)}
        missing = [m for m in self.models if m not in position]
        if missing:
            raise InputError(f"with_models: {missing[0]!r} is missing from the new model list")
        remap = [position[m] for m in self.models]
        return KwiseVotes(
            names, tuple(tuple(remap[x] for x in s) for s in self.shown), self.ranks, self.tstamp
        )

    def subset(self, index: Sequence[int] | NDArray[np.int64]) -> KwiseVotes:
        """Return the votes at ``index`` (repeats allowed, as in a bootstrap resample)."""
        idx = [int(i) for i in index]
        return KwiseVotes(
            self.models,
            tuple(self.shown[i] for i in idx),
            tuple(self.ranks[i] for i in idx),
            None if self.tstamp is None else self.tstamp[idx],
        )


def ranking_problem(k: int, ranks: Sequence[Any]) -> str | None:
    """Return what is wrong with the ranks of a vote of ``k`` answers (``None``: valid)."""
    if not MIN_K <= k <= MAX_K:
        return f"a K-wise vote ranks from {MIN_K} to {MAX_K} answers; got {k}"
    if len(ranks) != k:
        return f"ranks must hold one rank per model ({k}); got {len(ranks)}"
    if any(type(r) is not int for r in ranks):
        return f"ranks must be integers from 1 to {k}; got {list(ranks)!r}"
    if sorted(ranks) != list(range(1, k + 1)):
        return (
            f"ranks must be a permutation of 1..{k} (1 = best; ties are not allowed); "
            f"got {list(ranks)!r}"
        )
    return None


def pair_weight(k: int) -> float:
    """Return the weight of each of the K(K-1)/2 implied pairs of a vote: ``1 / (K - 1)``."""
    if k < 2:
        raise InputError(f"a vote needs at least two answers; got {k}")
    return 1.0 / (k - 1)


def implied_pairs(votes: KwiseVotes) -> Battles:
    """Break every vote into its implied pairs, as weighted battles on ``votes.models``.

    Each pair of a vote of K answers is one entry: the better-ranked model as ``a``, outcome
    ``model_a``, weight ``1 / (K - 1)`` (:func:`pair_weight`) and the vote's ``tstamp``.
    """
    a: list[int] = []
    b: list[int] = []
    w: list[float] = []
    t: list[float] = []
    for v, order in enumerate(votes.best_first()):
        k = len(order)
        weight = pair_weight(k)
        for i in range(k):
            for j in range(i + 1, k):
                a.append(order[i])
                b.append(order[j])
                w.append(weight)
                if votes.tstamp is not None:
                    t.append(float(votes.tstamp[v]))
    n = len(a)
    return Battles(
        votes.models,
        np.asarray(a, dtype=np.int32),
        np.asarray(b, dtype=np.int32),
        np.full(n, A_WINS, dtype=np.int8),
        None if votes.tstamp is None or not n else np.asarray(t),
        np.asarray(w, dtype=np.float64),
    )


def combine(battles: Battles | None, votes: KwiseVotes) -> Battles:
    """Return pairwise battles and the votes' implied pairs as one weighted :class:`Battles`.

    Battles keep their own weights (1 each when unweighted); the models are the union of
    both, in name order.
    """
    if battles is None:
        return implied_pairs(votes.with_models(sorted(votes.models)))
    names = tuple(sorted(set(battles.models) | set(votes.models)))
    left = battles.with_models(names)
    right = implied_pairs(votes.with_models(names))
    lw = np.ones(len(left)) if left.weight is None else left.weight
    tstamp = None
    if left.tstamp is not None and right.tstamp is not None:
        tstamp = np.concatenate([left.tstamp, right.tstamp])
    return Battles(
        names,
        np.concatenate([left.a, right.a]),
        np.concatenate([left.b, right.b]),
        np.concatenate([left.outcome, right.outcome]),
        tstamp,
        np.concatenate([lw, np.asarray(right.weight)]),
    )


def _appearances(votes: KwiseVotes) -> NDArray[np.int64]:
    counts = np.zeros(len(votes.models), dtype=np.int64)
    for shown in votes.shown:
        counts[list(shown)] += 1
    return counts


def kwise_bradley_terry(
    votes: KwiseVotes,
    *,
    scale: float = 400.0,
    base: float = 10.0,
    init: float = 1000.0,
    l2: float | None = None,
    ci: str = "bootstrap",
    rounds: int = 100,
    confidence: float = 0.95,
    rng: int | np.random.Generator | None = None,
) -> RatingResult:
    """Bradley-Terry ratings from K-wise votes, on their implied pairs (weighted 1/(K-1)).

    Parameters
    ----------
    votes : KwiseVotes
    scale, base, init, l2
        As in :func:`ranking.bradley_terry.bradley_terry` (same scale and gauge as the
        pairwise board).
    ci : {"none", "bootstrap"}
        ``bootstrap``: percentile intervals over ``rounds`` resamples of whole votes (the
        implied pairs of one vote are dependent, so the pairs are not resampled one by one),
        widened if needed to contain the point estimate.
    rounds : int
    confidence : float
    rng : int, Generator or None
        Draws the resamples.

    Returns
    -------
    RatingResult
        ``method="kwise_bt"``; ``battles`` counts the votes each model appeared in (its
        implied pairs weigh one comparison per vote) and ``n_battles`` the votes.
    """
    from ranking.bradley_terry import bradley_terry

    if ci not in ("none", "bootstrap"):
        raise InputError(f"ci must be one of none, bootstrap; got {ci!r}")
    rounds = check_positive_int("rounds", rounds)
    conf = check_probability("confidence", confidence)
    if len(votes) == 0:
        raise InputError("kwise_bradley_terry: no votes to rate")
    pairs = implied_pairs(votes)
    point = bradley_terry(pairs, scale=scale, base=base, init=init, l2=l2)
    lower = upper = None
    if ci == "bootstrap":
        draws = _vote_bootstrap(
            votes, pairs, scale=scale, base=base, init=init, l2=l2, rounds=rounds, rng=as_rng(rng)
        )
        alpha = (1.0 - conf) / 2.0
        lower = np.minimum(np.quantile(draws, alpha, axis=0), point.rating)
        upper = np.maximum(np.quantile(draws, 1.0 - alpha, axis=0), point.rating)
    params: dict[str, Any] = {
        "scale": scale,
        "base": base,
        "init": init,
        "l2": l2,
        "ci": ci,
        "rounds": rounds,
        "confidence": conf,
        "rng": seed_param(rng),
        "pair_weight": "1/(K-1)",
    }
    return RatingResult(
        method="kwise_bt",
        params=params,
        models=list(votes.models),
        rating=point.rating,
        lower=lower,
        upper=upper,
        battles=_appearances(votes),
        component=components(pairs),
        n_battles=len(votes),
    )


def _vote_bootstrap(
    votes: KwiseVotes,
    pairs: Battles,
    *,
    scale: float,
    base: float,
    init: float,
    l2: float | None,
    rounds: int,
    rng: np.random.Generator,
) -> NDArray[np.float64]:
    """Return ratings refitted on ``rounds`` resamples of whole votes (one row per round).

    All rounds are one batched Newton solve: each vote's implied pairs are one row of pair
    counts, a resample is a multinomial count per vote, its pair counts the count-weighted
    sum of the rows.
    """
    import math

    from ranking._bt_core import newton, pairs_from_battles
    from ranking.bradley_terry import FALLBACK_RIDGE

    full = pairs_from_battles(pairs)
    slot = {(int(i), int(j)): p for p, (i, j) in enumerate(zip(full.i, full.j))}
    rows_ij = np.zeros((len(votes), len(slot)))
    rows_ji = np.zeros((len(votes), len(slot)))
    for v, order in enumerate(votes.best_first()):
        w = pair_weight(len(order))
        for x in range(len(order)):
            for y in range(x + 1, len(order)):
                win, lose = order[x], order[y]
                if win < lose:
                    rows_ij[v, slot[(win, lose)]] += w
                else:
                    rows_ji[v, slot[(lose, win)]] += w
    counts = rng.multinomial(len(votes), np.full(len(votes), 1.0 / len(votes)), size=rounds)
    ij, ji = counts @ rows_ij, counts @ rows_ji
    log_base = math.log(base)
    # a resample may leave a model unbeaten (or absent): the tiny fallback ridge of the
    # unpenalised fit keeps every round finite; with l2 it is the penalty itself
    ridge = FALLBACK_RIDGE * float(full.n.sum()) if l2 is None else 1.0 / (2.0 * l2 * log_base**2)
    theta = newton(full, ij, ij + ji, np.full(rounds, ridge))
    return scale / log_base * theta + init


def kwise_openskill(
    votes: KwiseVotes,
    *,
    battles: Battles | None = None,
    model: str = "plackett-luce",
    mu: float = 25.0,
    sigma: float = 25.0 / 3.0,
    beta: float = 25.0 / 6.0,
    kappa: float = 0.0001,
    tau: float = 25.0 / 300.0,
    confidence: float = 0.95,
) -> RatingResult:
    """OpenSkill free-for-all ratings: one ``rate(teams, ranks=...)`` call per K-wise vote.

    Parameters
    ----------
    votes : KwiseVotes
        Processed in ``tstamp`` order (stable) when they have one, otherwise as given.
    battles : Battles, optional
        Pairwise battles to rate as well (each a two-player free-for-all, a tie a draw).
        When both carry ``tstamp`` the votes and battles are interleaved by time; otherwise
        the battles come first, then the votes. Weighted battles (pair counts) are refused.
    model, mu, sigma, beta, kappa, tau, confidence
        As in :func:`ranking.openskill.openskill_rate`.

    Returns
    -------
    RatingResult
        ``method="kwise_openskill"``, ``rating = μ``, ``lower``/``upper`` ``μ ∓ z·σ``;
        ``extra`` holds ``mu``, ``sigma`` and ``ordinal = μ - 3σ`` (K-Sort Arena's
        conservative score).
    """
    from ranking.openskill import OPENSKILL_MODELS, ORDINAL_Z, _engine_kwargs
    from ranking.types import B_WINS

    model, kwargs = _engine_kwargs(model, mu, sigma, beta, kappa, tau, 0.1, 4, False)
    conf = check_probability("confidence", confidence)
    if battles is not None and battles.weight is not None:
        raise InputError(
            "openskill is an online method: pair counts (weighted battles) cannot be rated"
        )
    names = tuple(sorted(set(votes.models) | set(() if battles is None else battles.models)))
    vv = votes.with_models(names)
    bb = battles.with_models(names) if battles is not None else None
    events: list[tuple[float, int, list[int], list[int]]] = []
    timed = vv.tstamp is not None and (bb is None or len(bb) == 0 or bb.tstamp is not None)
    if bb is not None:
        for i, (x, y, o) in enumerate(zip(bb.a.tolist(), bb.b.tolist(), bb.outcome.tolist())):
            ranks = [0, 0] if o not in (A_WINS, B_WINS) else ([0, 1] if o == A_WINS else [1, 0])
            t = float(bb.tstamp[i]) if timed and bb.tstamp is not None else 0.0
            events.append((t, 0, [x, y], ranks))
    for v, (shown, ranks_) in enumerate(zip(vv.shown, vv.ranks)):
        t = float(vv.tstamp[v]) if timed and vv.tstamp is not None else 0.0
        events.append((t, 1, list(shown), list(ranks_)))
    if timed:
        events.sort(key=lambda e: e[0])  # stable: equal times keep battles, then votes
    engine = OPENSKILL_MODELS[model](**kwargs)
    ratings = [engine.rating(mu=kwargs["mu"], sigma=kwargs["sigma"]) for _ in names]
    counts = np.zeros(len(names), dtype=np.int64)
    for _, _, players, ranks in events:
        result = engine.rate([[ratings[p]] for p in players], ranks=[float(r) for r in ranks])
        for p, [new] in zip(players, result):
            ratings[p] = new
            counts[p] += 1
    mu_arr = np.array([r.mu for r in ratings], dtype=np.float64)
    sigma_arr = np.array([r.sigma for r in ratings], dtype=np.float64)
    z = NormalDist().inv_cdf(0.5 + conf / 2.0)
    graph = implied_pairs(vv)
    if bb is not None and len(bb):
        graph = combine(bb, vv)
    params: dict[str, Any] = dict(kwargs, model=model, confidence=conf, z=z, ordinal_z=ORDINAL_Z)
    return RatingResult(
        method="kwise_openskill",
        params=params,
        models=list(names),
        rating=mu_arr,
        lower=mu_arr - z * sigma_arr,
        upper=mu_arr + z * sigma_arr,
        battles=counts,
        component=components(graph),
        n_battles=len(events),
        extra={"mu": mu_arr, "sigma": sigma_arr, "ordinal": mu_arr - ORDINAL_Z * sigma_arr},
    )


def plackett_luce_sample(
    strength: NDArray[np.float64],
    shown: Sequence[int],
    rng: np.random.Generator,
    *,
    scale: float = 400.0,
    base: float = 10.0,
) -> tuple[int, ...]:
    """Ranks (1 = best) of ``shown`` drawn from Plackett-Luce with Elo-scale strengths.

    θ_i = base^(strength_i / scale); a Plackett-Luce ranking is the order of
    ``log θ_i + Gumbel noise`` (the Gumbel-max trick), and for two models this is exactly
    the Bradley-Terry vote P(i beats j) = 1 / (1 + base^-((s_i - s_j) / scale)).
    """
    idx = list(shown)
    util = np.asarray(strength)[idx] * (np.log(base) / scale) + rng.gumbel(size=len(idx))
    order = np.argsort(-util, kind="stable")
    ranks = np.empty(len(idx), dtype=np.int64)
    ranks[order] = np.arange(1, len(idx) + 1)
    return tuple(int(r) for r in ranks)


__all__ = [
    "MAX_K",
    "MIN_K",
    "KwiseVotes",
    "combine",
    "implied_pairs",
    "kwise_bradley_terry",
    "kwise_openskill",
    "pair_weight",
    "plackett_luce_sample",
    "ranking_problem",
]
