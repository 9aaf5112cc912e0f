"""Bradley-Terry maximum likelihood on aggregated pair counts, with sandwich or bootstrap CIs.

The model: P(i beats j) = 1 / (1 + base^-(w_i - w_j)), rating = scale·w + init, a tie
counting as half a win for each side. Everything is computed from the pair counts
(wins both ways and ties of every pair that met), so the cost grows with the number of
model pairs, not with the number of battles. The optimum is found by Newton's method,
which converges to machine precision in a handful of steps.

Gauges and penalties (DESIGN.md, ``rate --method bt``):

* ``l2=None``: unpenalised maximum likelihood, each connected component of the
  comparison graph centred on ``init`` (or shifted so ``anchor`` has its value).
* ``l2=C``: the exact optimum of FastChat's early-2024 ``compute_mle_elo`` objective
  ``½‖w‖² + C·Σ_battles loss`` (a decided battle counts twice, a tie once each way),
  which is the same likelihood with a ridge ``1 / (2C)``; no mean shift.

When maximum likelihood has no finite solution (a model that won, or lost, every one of
its comparisons inside its component) a :class:`~ranking.errors.RankingWarning` names
the models and the ratings are computed under a tiny ridge of ``1e-6`` per battle, so
the unbounded models sit far above (or below) the rest instead of at an arbitrary place.

References
----------
.. [1] R. A. Bradley and M. E. Terry, "Rank analysis of incomplete block designs: I. The
   method of paired comparisons", Biometrika 39 (1952).
.. [2] W.-L. Chiang et al., "Chatbot Arena: An Open Platform for Evaluating LLMs by Human
   Preference" (2024); FastChat ``fastchat/serve/monitor/rating_systems.py``.
.. [3] lmarena/arena-rank, ``arena_rank/models/bradley_terry.py`` (sandwich estimator).
"""

from __future__ import annotations

import math
import warnings
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray
from scipy import sparse
from scipy.sparse.csgraph import connected_components
from scipy.special import expit
from scipy.stats import norm

from ranking._bt_core import (
    STEP_TOL,
    Pairs,
    fit_point,
    gauge_projector,
    incidence_matrix,
    newton,
    pairs_from_battles,
    strong_components,
    unbounded_models,
)
from ranking._logistic import win_probability
from ranking._profile import profile_intervals
from ranking._validation import (
    as_rng,
    check_anchor,
    check_base,
    check_choice,
    check_finite,
    check_positive,
    check_positive_int,
    check_probability,
    seed_param,
)
from ranking.battles import Battles
from ranking.errors import InputError, RankingWarning
from ranking.types import RatingResult

CI_METHODS: tuple[str, ...] = ("none", "sandwich", "bootstrap", "profile")
REWEIGHTS: tuple[str, ...] = ("none", "pair_frequency")
#: Ridge (per battle, natural-log units) used when maximum likelihood has no finite optimum.
FALLBACK_RIDGE = 1e-6


def _pair_frequency_weight(pairs: Pairs) -> NDArray[np.float64]:
    """Return the weight of each battle of each pair: N / (P · n_p).

    Inversely proportional to how often the pair was played, normalised so the weights of
    all N battles sum to N (every one of the P pairs that met then carries the same total
    weight N / P).
    """
    return float(pairs.n.sum()) / (len(pairs.i) * pairs.n)


def _reweighted(pairs: Pairs, weight: NDArray[np.float64]) -> Pairs:
    return Pairs(
        pairs.n_models,
        pairs.i,
        pairs.j,
        pairs.wins_ij * weight,
        pairs.wins_ji * weight,
        pairs.ties * weight,
        pairs.component,
    )


def _sandwich_cov(
    pairs: Pairs,
    theta: NDArray[np.float64],
    ridge: float,
    hessian_reg: float,
    n_battles: float,
    weight: NDArray[np.float64] | float = 1.0,
) -> NDArray[np.float64]:
    """Robust covariance H⁻¹ G H⁻¹ of θ, as lmarena's arena-rank computes it.

    H is the Hessian of the negative log-likelihood (plus the ridge) with
    ``hessian_reg · n_battles`` added to its diagonal; G sums the squared per-battle
    scores, (y - p)² for every battle of every pair. With battle weights (``pairs``
    then holds weighted counts and ``weight`` the weight of each pair's battles) a
    battle's score is w (y - p) and G sums w² (y - p)².
    """
    m = pairs.n_models
    i, j = pairs.i, pairs.j
    p = expit(theta[i] - theta[j])
    h = pairs.n * p * (1.0 - p)
    g = weight * (
        pairs.wins_ij * (1.0 - p) ** 2 + pairs.wins_ji * p**2 + pairs.ties * (0.5 - p) ** 2
    )

    def laplacian(values: NDArray[np.float64]) -> NDArray[np.float64]:
        out = np.zeros((m, m))
        out[i, j] = -values
        out[j, i] = -values
        out[np.arange(m), np.arange(m)] = np.bincount(i, values, m) + np.bincount(j, values, m)
        return out

    hess = laplacian(h) + (ridge + hessian_reg * n_battles) * np.eye(m)
    hess_inv = np.linalg.inv(hess)
    return hess_inv @ laplacian(g) @ hess_inv


def _bootstrap_thetas(
    pairs: Pairs,
    *,
    ridge: float,
    rounds: int,
    rng: np.random.Generator,
    theta0: NDArray[np.float64] | None = None,
) -> NDArray[np.float64]:
    """θ refitted on ``rounds`` resamples of the battles (a multinomial over count cells)."""
    counts = np.concatenate([pairs.wins_ij, pairs.wins_ji, pairs.ties])
    cell_pair = np.tile(np.arange(len(pairs.i)), 3)
    cell_kind = np.repeat(np.arange(3), len(pairs.i))
    used = counts > 0
    counts, cell_pair, cell_kind = counts[used], cell_pair[used], cell_kind[used]
    total = int(round(float(counts.sum())))
    draws = _multinomial(rng, total, counts / counts.sum(), rounds).astype(np.float64)
    p_count = len(pairs.i)
    parts = np.zeros((3, rounds, p_count))
    for kind in range(3):
        sel = cell_kind == kind
        parts[kind][:, cell_pair[sel]] = draws[:, sel]
    ij, ji, ties = parts
    n = ij + ji + ties
    score = ij + 0.5 * ties
    ridges = np.full(rounds, ridge)
    if ridge == 0.0:
        fwd = (pairs.wins_ij + pairs.ties) > 0
        bwd = (pairs.wins_ji + pairs.ties) > 0
        same_graph = (((ij + ties) > 0) == fwd).all(1) & (((ji + ties) > 0) == bwd).all(1)
        for r in np.flatnonzero(~same_graph):
            sub = Pairs(pairs.n_models, pairs.i, pairs.j, ij[r], ji[r], ties[r], pairs.component)
            if len(unbounded_models(sub)) or _splits(sub):
                ridges[r] = FALLBACK_RIDGE * total
    if theta0 is None:
        return newton(pairs, score, n, ridges)
    theta, done = _chord(pairs, score, n, ridges, theta0)
    if not done.all():
        rest = np.flatnonzero(~done)
        theta[rest] = newton(pairs, score[rest], n[rest], ridges[rest], theta0=theta0)
    return theta


def _chord(
    pairs: Pairs,
    score: NDArray[np.float64],
    n: NDArray[np.float64],
    ridge: NDArray[np.float64],
    theta0: NDArray[np.float64],
    max_iter: int = 40,
) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """Refit many resamples from ``theta0`` with the Hessian of the full data (chord method).

    A resample's Hessian differs from the full data's by a few percent, so reusing the
    full data's (inverted once) converges linearly and fast, without a solve per resample
    and step. Rows that do not contract (tiny or degenerate resamples) are reported as not
    done, for Newton's method to finish.
    """
    m = pairs.n_models
    i, j = pairs.i, pairs.j
    incidence = incidence_matrix(pairs)
    projector = gauge_projector(pairs.component)
    p0 = expit(theta0[i] - theta0[j])
    v0 = pairs.n * p0 * (1.0 - p0)
    hess = np.zeros((m, m))
    hess[i, j] = -v0
    hess[j, i] = -v0
    hess[np.arange(m), np.arange(m)] = np.bincount(i, v0, m) + np.bincount(j, v0, m)
    hess += (float(np.median(ridge)) + 0.0) * np.eye(m)
    hess += (hess.diagonal().mean() + 1.0) * projector
    hess_inv = np.linalg.inv(hess)
    theta = np.array(np.broadcast_to(theta0, (score.shape[0], m)))
    done = np.zeros(score.shape[0], dtype=bool)
    failed = np.zeros(score.shape[0], dtype=bool)
    previous = np.full(score.shape[0], np.inf)
    for it in range(max_iter):
        live = np.flatnonzero(~done & ~failed)
        if not len(live):
            break
        th = theta[live]
        p = expit(th[:, i] - th[:, j])
        grad = ridge[live, None] * th - (incidence.T @ (score[live] - n[live] * p).T).T
        delta = -grad @ hess_inv
        delta -= delta @ projector
        size = np.abs(delta).max(axis=1)
        bad = ~np.isfinite(size) | ((it >= 2) & (size > 0.7 * previous[live]))
        ok = live[~bad]
        theta[ok] = th[~bad] + delta[~bad]
        theta[ok] -= theta[ok] @ projector
        previous[live] = size
        failed[live[bad]] = True
        done[ok[size[~bad] < STEP_TOL * 100]] = True
    return theta, done


def _multinomial(
    rng: np.random.Generator, total: int, probs: NDArray[np.float64], size: int
) -> NDArray[np.int64]:
    """``size`` exact Multinomial(total, probs) draws, about twice as fast as numpy's.

    Independent Poisson(total · p_k) counts are, given their sum T, Multinomial(T, p).
    Adding total - T further categorical draws (when T < total), or removing T - total
    units chosen uniformly without replacement (when T > total), leaves a
    Multinomial(total, p) whatever T was, so the result is exact.
    """
    k = len(probs)
    draws = rng.poisson(total * probs, size=(size, k))
    cum_p = np.cumsum(probs)
    cum_p[-1] = np.inf
    for r in range(size):
        diff = total - int(draws[r].sum())
        if diff > 0:
            cells = np.searchsorted(cum_p, rng.random(diff), side="right")
            draws[r] += np.bincount(cells, minlength=k)
        elif diff < 0:
            cum_x = np.cumsum(draws[r])
            units = rng.choice(int(cum_x[-1]), size=-diff, replace=False)
            draws[r] -= np.bincount(np.searchsorted(cum_x, units, side="right"), minlength=k)
    return draws


def _splits(pairs: Pairs) -> bool:
    """Tell whether the resampled pairs no longer connect each original component."""
    met = pairs.n > 0
    games = sparse.csr_matrix(
        (np.ones(int(met.sum())), (pairs.i[met], pairs.j[met])),
        shape=(pairs.n_models, pairs.n_models),
    )
    k, _ = connected_components(games, directed=False)
    return bool(k != pairs.component.max() + 1)


def bradley_terry(
    battles: Battles,
    *,
    scale: float = 400.0,
    base: float = 10.0,
    init: float = 1000.0,
    l2: float | None = None,
    anchor: tuple[str, float] | None = None,
    ci: Literal["none", "sandwich", "bootstrap", "profile"] = "none",
    rounds: int = 100,
    confidence: float = 0.95,
    rng: int | np.random.Generator | None = None,
    hessian_reg: float = 1e-5,
    reweight: Literal["none", "pair_frequency"] = "none",
    bounds: bool = True,
) -> RatingResult:
    """Bradley-Terry ratings by maximum likelihood, optionally with confidence intervals.

    Parameters
    ----------
    battles : Battles
        The battles (or pair counts as weighted battles).
    scale, base, init : float
        Rating = ``scale · w + init`` with P(i beats j) = 1 / (1 + base^-(w_i - w_j)).
    l2 : float or None
        ``None``: unpenalised, each component centred on ``init``. ``C > 0``: minimise
        FastChat's ``½‖w‖² + C·Σ loss`` exactly (no mean shift).
    anchor : (str, float) or None
        Shift every rating so this model has this value; intervals become intervals of
        the difference to the anchor (the anchor's own interval is a point).
    ci : {"none", "sandwich", "bootstrap", "profile"}
        Sandwich (robust) intervals as arena-rank computes them; percentile intervals
        from ``rounds`` resamples of the battles (widened, if needed, to contain the
        point estimate); or profile-likelihood intervals (``l2=None`` only), which hold
        at every number of battles, separated data included:

        * The interval covers the model's rating relative to the mean rating of its
          component's *core* (``init`` + that difference): the core is the largest group
          of models that won and lost (or tied) against each other, directly or through
          others, i.e. the whole component whenever maximum likelihood has a finite
          solution, so that ratings and intervals of well-connected data are the usual
          centred ones. With ``anchor``, the anchor's component uses the difference to
          the anchor instead.
        * A side that the data do not bound (a model that won every comparison that
          links it to the core has no upper bound) is ``+inf`` / ``-inf``.
        * The rating of a model of the core is the exact maximum-likelihood estimate.
          A model whose estimate is infinite is reported at the finite end of its 50 %
          profile interval (where the fit is χ²₁(0.5)/2 ≈ 0.23 log-likelihood units
          from the best): a median-like value, finite, treating a lone win and a lone
          loss alike, and inside every interval of confidence >= 50 % because the
          intervals are nested (with ``confidence`` below 50 %, at that confidence);
          at ``init`` when neither side is bounded. So every rating lies inside its own
          interval.

        See :mod:`ranking._profile` for the computation and references.
    rounds : int
        Bootstrap resamples.
    confidence : float
        Interval coverage.
    rng : int, Generator or None
        Randomness of the bootstrap.
    hessian_reg : float
        Ridge added to the sandwich Hessian's diagonal, times the number of battles
        (arena-rank's ``hessian_reg``); it only removes the unidentified shift.
    reweight : {"none", "pair_frequency"}
        ``"pair_frequency"`` weights every battle of a pair p inversely to the number of
        battles n_p of that pair, w_p = N / (P · n_p) (N battles, P pairs that met), so
        the weights sum to N and every pair carries the same total weight N / P, as
        LMArena has done since July 2025 to keep frequently sampled pairs from dominating.
        The ratings maximise the weighted likelihood; sandwich intervals use the weighted
        scores, profile intervals the weighted likelihood with a per-model scaled
        threshold (see :func:`ranking._profile.profile_intervals`). The bootstrap is not
        available with reweighting.
    bounds : bool
        ``False`` with ``ci="profile"``: the ratings only (``lower``/``upper`` ``None``),
        exactly those the profile intervals come with (the finite 50 % ends included), at a
        fraction of the cost; ``ci="none"`` differs where maximum likelihood is infinite.
        Ignored with the other ``ci`` values.

    Returns
    -------
    RatingResult
        ``method="bt"``.

    Warns
    -----
    RankingWarning
        When the comparison graph has several components (unpenalised), or when maximum
        likelihood leaves some ratings unbounded.

    References
    ----------
    .. [4] Y. Pawitan, *In All Likelihood*, Oxford University Press (2001), ch. 9
       (profile likelihood).
    .. [5] LMArena, "Arena-Rank" methodology notes (2025): battles reweighted by inverse
       pair frequency.
    """
    scale = check_positive("scale", scale)
    base = check_base(base)
    init = check_finite("init", init)
    if l2 is not None:
        l2 = check_positive("l2", l2)
    ci = check_choice("ci", ci, CI_METHODS)  # type: ignore[assignment]
    reweight = check_choice("reweight", reweight, REWEIGHTS)  # type: ignore[assignment]
    rounds = check_positive_int("rounds", rounds)
    confidence = check_probability("confidence", confidence)
    hessian_reg = check_finite("hessian_reg", hessian_reg)
    if hessian_reg < 0:
        raise InputError(f"hessian_reg must be >= 0; got {hessian_reg!r}")
    if ci == "profile" and l2 is not None:
        raise InputError(
            "ci='profile' is the interval of the unpenalised likelihood; it does not apply with l2"
        )
    if reweight != "none" and ci == "bootstrap":
        raise InputError(
            "reweight='pair_frequency' supports ci none, sandwich or profile, not bootstrap"
        )
    anchor = check_anchor(anchor, battles.models)
    if battles.n_models == 0 or battles.n_battles == 0:
        raise InputError("Bradley-Terry needs at least one battle")

    return _bradley_terry(
        battles,
        scale=scale,
        base=base,
        init=init,
        l2=l2,
        anchor=anchor,
        ci=ci,
        rounds=rounds,
        confidence=confidence,
        rng=rng,
        hessian_reg=hessian_reg,
        reweight=reweight,
        bounds=bool(bounds),
    )


def _bradley_terry(
    battles: Battles,
    *,
    scale: float,
    base: float,
    init: float,
    l2: float | None,
    anchor: tuple[str, float] | None,
    ci: str,
    rounds: int,
    confidence: float,
    rng: int | np.random.Generator | None,
    hessian_reg: float,
    reweight: str,
    bounds: bool = True,
) -> RatingResult:
    pairs = pairs_from_battles(battles)
    weight = _pair_frequency_weight(pairs) if reweight == "pair_frequency" else None
    fit_pairs = pairs if weight is None else _reweighted(pairs, weight)
    log_base = math.log(base)
    to_points = scale / log_base
    n_total = float(pairs.n.sum())
    n_components = int(pairs.component.max()) + 1
    ridge = 0.0 if l2 is None else 1.0 / (2.0 * l2 * log_base**2)
    if l2 is None:
        if n_components > 1:
            warnings.warn(
                f"the comparison graph has {n_components} connected components; ratings "
                "are comparable only within a component (see 'component'), each centred "
                "on init",
                RankingWarning,
                stacklevel=3,
            )
        unbounded = unbounded_models(pairs)
        if len(unbounded):
            strong = strong_components(
                pairs.n_models, pairs.i, pairs.j, pairs.wins_ij, pairs.wins_ji, pairs.ties
            )
            groups = []
            for label in dict.fromkeys(strong[unbounded].tolist()):
                members = [battles.models[k] for k in np.flatnonzero(strong == label)]
                shown = ", ".join(repr(m) for m in members[:4])
                groups.append("{" + shown + (", ..." if len(members) > 4 else "") + "}")
            listed = " | ".join(groups[:4]) + (" | ..." if len(groups) > 4 else "")
            handled = (
                "their intervals are open on that side (inf) and each is rated at "
                "the finite end of its 50 % interval"
                if ci == "profile"
                else f"ratings are reported under a tiny ridge ({FALLBACK_RIDGE:g} per "
                "battle); use l2 for a proper penalty, or ci='profile'"
            )
            warnings.warn(
                f"maximum likelihood has no finite solution: the groups {listed} won (or "
                "lost) every comparison against each other, so the gaps between them are "
                f"unbounded; {handled}",
                RankingWarning,
                stacklevel=3,
            )
            if ci != "profile":
                ridge = FALLBACK_RIDGE * n_total

    a_idx = None if anchor is None else battles.models.index(anchor[0])
    same = (
        np.ones(battles.n_models, dtype=bool)
        if l2 is not None or a_idx is None
        else pairs.component == pairs.component[a_idx]
    )
    lower = upper = None
    seed: Any = seed_param(rng)
    if ci == "profile":
        prof = profile_intervals(
            fit_pairs,
            anchor=a_idx,
            confidence=confidence,
            names=battles.models,
            pair_weight=weight,
            bounds=bounds,
        )
        offset = np.where(same, init if anchor is None else anchor[1], init)
        rating = to_points * prof.psi + offset
        if bounds:
            lower, upper = to_points * prof.lower + offset, to_points * prof.upper + offset
    else:
        theta = fit_point(fit_pairs, ridge)
        rating = to_points * theta + init
        shift = 0.0
        if anchor is not None:
            shift = anchor[1] - float(rating[a_idx])
            rating = rating + shift
    if ci == "sandwich":
        cov = (
            _sandwich_cov(
                fit_pairs, theta, ridge, hessian_reg, n_total, 1.0 if weight is None else weight
            )
            * to_points**2
        )
        var = np.diag(cov).copy()
        if a_idx is not None:
            contrast = np.diag(cov) + cov[a_idx, a_idx] - 2.0 * cov[:, a_idx]
            var = np.where(same, contrast, var)
        half = norm.ppf(0.5 + confidence / 2.0) * np.sqrt(np.maximum(var, 0.0))
        lower, upper = rating - half, rating + half
    elif ci == "bootstrap":
        generator = as_rng(rng)
        samples = (
            to_points
            * _bootstrap_thetas(pairs, ridge=ridge, rounds=rounds, rng=generator, theta0=theta)
            + init
        )
        if a_idx is not None:
            samples = np.where(
                same[None, :], samples - samples[:, [a_idx]] + rating[a_idx], samples + shift
            )
        tail = (1.0 - confidence) / 2.0
        q_lo, q_hi = np.quantile(samples, [tail, 1.0 - tail], axis=0)
        lower, upper = np.minimum(q_lo, rating), np.maximum(q_hi, rating)

    params: dict[str, Any] = {
        "scale": scale,
        "base": base,
        "init": init,
        "l2": l2,
        "anchor": None if anchor is None else {"model": anchor[0], "value": anchor[1]},
        "ci": ci,
        "confidence": confidence if ci != "none" else None,
        "rounds": rounds if ci == "bootstrap" else None,
        "seed": seed if ci == "bootstrap" else None,
        "hessian_reg": hessian_reg if ci == "sandwich" else None,
        "reweight": reweight,
    }
    return RatingResult(
        method="bt",
        params=params,
        models=list(battles.models),
        rating=rating,
        lower=lower,
        upper=upper,
        battles=battles.battles_per_model(),
        component=pairs.component,
        n_battles=battles.n_battles,
    )


def predict_win_matrix(result: RatingResult) -> NDArray[np.float64]:
    """P(i beats j) for every pair of models, from ratings on the BT/Elo logistic scale.

    Uses ``result.params["scale"]`` and ``["base"]`` (400 and 10 when absent); a tie
    counts as half a win, so ``P + P.T == 1`` and the diagonal is ½.
    """
    scale = float(result.params.get("scale", 400.0))
    base = float(result.params.get("base", 10.0))
    return win_probability(result.rating[:, None] - result.rating[None, :], scale=scale, base=base)
