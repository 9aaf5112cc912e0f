"""Profile-likelihood (likelihood-ratio) intervals for Bradley-Terry ratings.

The interval of model k is {ψ : 2 (sup ℓ - sup_{cᵀθ = ψ} ℓ) <= χ²₁(confidence)}, where ℓ
is the log-likelihood on the pair counts and ψ = cᵀθ is k's rating relative to the mean
of its component's *reference set* R (c = e_k - 1_R / |R|): the anchor when one is given
in k's component, otherwise the component's *core*, its largest strongly connected group
of models (the models that won and lost, or tied, against each other, so that maximum
likelihood places them at finite distances). When the maximum-likelihood estimate
exists the core is the whole component and ψ is today's centred rating.

Separated data are handled exactly, without a ridge. The "scored at least half a point
against" graph orders the strong components as a DAG; the likelihood's directions of
recession are the upward-closed sets of that order. With cᵀθ held fixed, the models on
the order paths between k's strong component and the reference's (the *block* B_k) stay
at finite distances from each other, and every other group can be moved off to ±∞,
where its comparisons with the rest contribute nothing. So

    sup_{cᵀθ = ψ} ℓ = Σ_{S ⊄ B_k} ℓ̂_S + max_{cᵀθ = ψ} ℓ_{B_k}(θ),   sup ℓ = Σ_S ℓ̂_S,

with ℓ̂_S the maximum over the comparisons inside strong component S and ℓ_{B_k} the
likelihood of the comparisons inside the block. A model above the reference group has
an unbounded upper side (+inf), one below it an unbounded lower side, one incomparable
with it both; its finite side is the root of a concave profile function.

Models of the core are computed together: a Venzon-Moolgavkar iteration (solve
∇ℓ(θ) = λc and ℓ(θ) = ℓ̂ - χ²/2 for each bound) that reuses the Hessian at the optimum
for every bound and step (a chord method), vectorised over all bounds. Any bound that
does not contract, and every model outside the core, is computed by an exact
one-dimensional Newton iteration on the profile function, whose values come from
Newton's method on the likelihood with the linear constraint.

References
----------
.. [1] D. J. Venzon and S. H. Moolgavkar, "A method for computing profile-likelihood-based
   confidence intervals", Applied Statistics 37 (1988), 87-94.
.. [2] Y. Pawitan, *In All Likelihood*, Oxford University Press (2001), ch. 3 and 9.
.. [3] A. Albert and J. A. Anderson, "On the existence of maximum likelihood estimates in
   logistic regression models", Biometrika 71 (1984), 1-10 (separation).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import sparse
from scipy.sparse.csgraph import breadth_first_order, connected_components
from scipy.special import expit
from scipy.stats import chi2

from ranking._bt_core import (
    Pairs,
    fit_point,
    gauge_projector,
    incidence_matrix,
    strong_components,
)
from ranking.errors import ConvergenceError

_CHORD_ITER = 60
_TOL = 1e-10
_CHORD_TOL = 1e-9
_CHUNK = 200_000
_OUTER_ITER = 100


@dataclass(frozen=True)
class Profile:
    """Point estimates and profile-likelihood bounds, natural-log units, ψ gauge.

    ``psi`` is the maximum-likelihood ψ for a model of its component's core (or of the
    anchor's strong component) and, for a model whose ψ is unbounded, the finite end of
    its 50 % profile interval (0 when both sides are unbounded). ``core`` marks the
    former.
    """

    psi: NDArray[np.float64]
    lower: NDArray[np.float64]
    upper: NDArray[np.float64]
    core: NDArray[np.bool_]


def _loglik(pairs: Pairs, theta: NDArray[np.float64]) -> NDArray[np.float64]:
    """ℓ(θ) for each row of ``theta`` (shape ``(R, m)``), summed over the pairs."""
    return _loglik_grad(pairs, theta)[0]


def _loglik_grad(
    pairs: Pairs, theta: NDArray[np.float64], incidence: sparse.csr_matrix | None = None
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """ℓ(θ) and ∇ℓ(θ) for each row of ``theta`` (shape ``(R, m)``).

    Works on the pair-major ``(P, R)`` logits so that one exponential per pair and row
    serves both the log-likelihood and the win probabilities.
    """
    inc = incidence_matrix(pairs) if incidence is None else incidence
    value = np.empty(theta.shape[0])
    grad = np.empty_like(theta)
    step = max(1, _CHUNK // max(len(pairs.i), 1))  # rows per block: temporaries in cache
    for start in range(0, theta.shape[0], step):
        rows = slice(start, start + step)
        d = np.asarray(inc @ theta[rows].T)
        e = np.exp(-np.abs(d))
        q = 1.0 / (1.0 + e)
        value[rows] = pairs.score @ d - pairs.n @ (np.maximum(d, 0.0) + np.log1p(e))
        p = np.where(d >= 0.0, q, e * q)
        grad[rows] = np.asarray(inc.T @ (pairs.score[:, None] - pairs.n[:, None] * p)).T
    return value, grad


def _pair_loglik(pairs: Pairs, theta: NDArray[np.float64]) -> NDArray[np.float64]:
    d = theta[pairs.i] - theta[pairs.j]
    return np.asarray(pairs.score * d - pairs.n * np.logaddexp(0.0, d))


def _information(pairs: Pairs, theta: NDArray[np.float64]) -> NDArray[np.float64]:
    """-∇²ℓ at ``theta`` (a weighted graph Laplacian)."""
    m = pairs.n_models
    p = expit(theta[pairs.i] - theta[pairs.j])
    v = pairs.n * p * (1.0 - p)
    out = np.zeros((m, m))
    out[pairs.i, pairs.j] = -v
    out[pairs.j, pairs.i] = -v
    out[np.arange(m), np.arange(m)] = np.bincount(pairs.i, v, m) + np.bincount(pairs.j, v, m)
    return out


def _subset(pairs: Pairs, keep: NDArray[np.bool_]) -> Pairs:
    """Return the pairs selected by ``keep``, components recomputed (unused models isolated)."""
    m = pairs.n_models
    i, j = pairs.i[keep], pairs.j[keep]
    graph = sparse.csr_matrix((np.ones(len(i)), (i, j)), shape=(m, m))
    _, labels = connected_components(graph, directed=False)
    return Pairs(
        m, i, j, pairs.wins_ij[keep], pairs.wins_ji[keep], pairs.ties[keep], labels.astype(np.int64)
    )


def _restrict(pairs: Pairs, models: NDArray[np.int64]) -> Pairs:
    """Return the comparisons among ``models``, re-indexed 0..len(models)-1 (one component)."""
    index = np.full(pairs.n_models, -1)
    index[models] = np.arange(len(models))
    keep = (index[pairs.i] >= 0) & (index[pairs.j] >= 0)
    return Pairs(
        len(models),
        index[pairs.i[keep]],
        index[pairs.j[keep]],
        pairs.wins_ij[keep],
        pairs.wins_ji[keep],
        pairs.ties[keep],
        np.zeros(len(models), dtype=np.int64),
    )


def _reach(graph: sparse.csr_matrix, start: int) -> NDArray[np.bool_]:
    out = np.zeros(graph.shape[0], dtype=bool)
    out[breadth_first_order(graph, start, directed=True, return_predecessors=False)] = True
    return out


def _constrained_max(
    sub: Pairs, c: NDArray[np.float64], t: float, theta0: NDArray[np.float64]
) -> tuple[float, float, NDArray[np.float64]]:
    """Maximise ℓ subject to cᵀθ = t on one connected block; return (value, dℓ/dt, θ).

    Newton's method with backtracking in the coordinates of an orthonormal basis Z of
    the directions that keep cᵀθ and the mean of θ (the unidentified shift) fixed, so
    every iterate is exactly feasible. It stops when a step no longer moves θ, or when
    backtracking finds no increase (the optimum to rounding).
    """
    m = sub.n_models
    basis = np.linalg.qr(np.column_stack([np.ones(m), c, np.eye(m)]))[0][:, 2:m]
    theta = theta0 - theta0.mean()
    theta = theta + (t - c @ theta) * c / (c @ c)
    inc = incidence_matrix(sub)
    value, grad = (x[0] for x in _loglik_grad(sub, theta[None], inc))
    for _ in range(500):
        reduced = basis.T @ _information(sub, theta) @ basis
        reduced += 1e-12 * (np.trace(reduced) / max(m - 2, 1) + 1.0) * np.eye(m - 2)
        delta = basis @ np.linalg.solve(reduced, basis.T @ grad)
        decrement = float(grad @ delta)
        step = 1.0
        while step >= 1e-12:
            new_value, new_grad = (
                x[0] for x in _loglik_grad(sub, (theta + step * delta)[None], inc)
            )
            if new_value >= value + 1e-4 * step * decrement:
                break
            step *= 0.5
        if step < 1e-12:  # no increase left to find: the optimum, to rounding
            break
        theta, value, grad = theta + step * delta, float(new_value), new_grad
        if np.abs(step * delta).max(initial=0.0) < 1e-11:
            break
    else:
        raise ConvergenceError("Bradley-Terry profile: constrained Newton did not converge")
    return float(value), float(grad @ c / (c @ c)), theta


def _exact_bound(
    sub: Pairs, c: NDArray[np.float64], side: int, target: float, t_start: float, width: float
) -> float:
    """Return the root of f(t) = target on ``side`` (+1 upper, -1 lower) of a concave profile f.

    Steps outward from ``t_start`` (doubling ``width``) until f < target, then runs
    Newton's method from outside the interval, where concavity makes it monotone.
    """
    theta = np.zeros(sub.n_models)
    t = t_start
    value, slope, theta = _constrained_max(sub, c, t, theta)
    while value >= target:
        t += side * width
        width *= 2.0
        value, slope, theta = _constrained_max(sub, c, t, theta)
    for _ in range(_OUTER_ITER):
        if slope * side >= 0.0:  # pragma: no cover - impossible for a concave f outside
            raise ConvergenceError("Bradley-Terry profile: non-concave profile")
        new_t = t + (target - value) / slope
        if abs(new_t - t) < _TOL * max(1.0, abs(t)):
            return new_t
        t = new_t
        value, slope, theta = _constrained_max(sub, c, t, theta)
    raise ConvergenceError("Bradley-Terry profile: bound search did not converge")


def _chord_bounds(
    core: Pairs,
    theta_hat: NDArray[np.float64],
    contrasts: NDArray[np.float64],
    target: NDArray[np.float64],
    z: NDArray[np.float64],
) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """Venzon-Moolgavkar bounds for rows of ``contrasts``, Hessian fixed at the optimum.

    Row k's bounds solve ∇ℓ = λc_k, ℓ = ``target[k]``; they start from the Wald bounds
    at ``z[k]`` standard errors. Returns ψ bounds of shape ``(2, K)`` (lower, upper) and
    which of them converged.
    """
    projector = gauge_projector(core.component)
    inc = incidence_matrix(core)
    info = _information(core, theta_hat)
    info += (info.diagonal().mean() + 1.0) * projector
    info_inv = np.linalg.inv(info)
    k = contrasts.shape[0]
    b = contrasts @ info_inv
    b -= b @ projector
    v = np.einsum("km,km->k", contrasts, b)
    sides = np.repeat([-1.0, 1.0], k)
    c2, b2, v2 = np.tile(contrasts, (2, 1)), np.tile(b, (2, 1)), np.tile(v, 2)
    target2 = np.tile(target, 2)
    theta = theta_hat[None, :] + (sides * np.tile(z, 2) / np.sqrt(v2))[:, None] * b2
    done = np.zeros(2 * k, dtype=bool)
    failed = np.zeros(2 * k, dtype=bool)
    previous = np.full(2 * k, np.nan)
    for it in range(_CHORD_ITER):
        live = np.flatnonzero(~done & ~failed)
        if not len(live):
            break
        th = theta[live]
        value, grad = _loglik_grad(core, th, inc)
        a = grad @ info_inv
        a -= a @ projector
        lam2 = 2.0 * (value + 0.5 * (grad * a).sum(1) - target2[live]) / v2[live]
        lam = -sides[live] * np.sqrt(np.maximum(lam2, 0.0))
        delta = a - lam[:, None] * b2[live]
        size = np.abs(delta).max(axis=1, initial=0.0)
        bad = ~np.isfinite(size) | ((it >= 3) & (size > 0.7 * previous[live]))
        ok = live[~bad]
        theta[ok] = th[~bad] + delta[~bad]
        # The chord contracts linearly: once it contracts fast (ratio < 0.1), the error
        # left after this step is about size times the ratio size / previous.
        ratio = size / previous[live]
        left = np.where(ratio < 0.1, size * ratio, size)
        previous[live] = size
        failed[live[bad]] = True
        done[ok[left[~bad] < _CHORD_TOL]] = True
    psi = np.einsum("rm,rm->r", c2, theta).reshape(2, k)
    return psi, done.reshape(2, k)


def reference_sets(
    pairs: Pairs, *, anchor: int | None, names: Sequence[str]
) -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
    """Return the reference set R and the core of every component, as boolean masks.

    The core of a component is its largest strongly connected group (ties: the one with
    more battles inside, then the one holding the first model name in sorted order, so
    the choice does not depend on the order of the models); R is the anchor in the
    anchor's component and the core elsewhere, and the core is then R's group.
    """
    m = pairs.n_models
    strong = strong_components(
        m, pairs.i, pairs.j, pairs.wins_ij, pairs.wins_ji, pairs.ties
    ).astype(np.int64)
    weak = pairs.component
    size = np.bincount(strong)
    same = strong[pairs.i] == strong[pairs.j]
    inner = np.bincount(strong[pairs.i[same]], pairs.n[same], len(size))
    reference = np.zeros(m, dtype=bool)
    ref_strong = np.full(int(weak.max()) + 1, -1)
    for comp in range(len(ref_strong)):
        members = np.flatnonzero(weak == comp)
        if anchor is not None and weak[anchor] == comp:
            reference[anchor] = True
            ref_strong[comp] = strong[anchor]
            continue
        best = min(members.tolist(), key=lambda k: (-size[strong[k]], -inner[strong[k]], names[k]))
        ref_strong[comp] = strong[best]
        reference[members[strong[members] == strong[best]]] = True
    return reference, strong == ref_strong[weak]


def _sandwich_ratio(
    core: Pairs,
    weight: NDArray[np.float64],
    theta: NDArray[np.float64],
    contrasts: NDArray[np.float64],
) -> NDArray[np.float64]:
    """κ = cᵀH⁻¹GH⁻¹c / cᵀH⁻¹c for each row c of ``contrasts`` (weighted counts).

    H = Σ w n p(1-p) (the weighted information) and G = Σ w² n p(1-p), the variance of
    the weighted scores when the model holds, as Laplacians over the pairs: κ is the
    design effect of the weights alone (w for equal weights), not an empirical variance
    that could vanish (all ties) or fluctuate.
    """
    m = core.n_models
    p = expit(theta[core.i] - theta[core.j])
    g = weight * core.n * p * (1.0 - p)
    meat = np.zeros((m, m))
    meat[core.i, core.j] = -g
    meat[core.j, core.i] = -g
    meat[np.arange(m), np.arange(m)] = np.bincount(core.i, g, m) + np.bincount(core.j, g, m)
    projector = gauge_projector(core.component)
    info = _information(core, theta)
    info += (info.diagonal().mean() + 1.0) * projector
    b = contrasts @ np.linalg.inv(info)
    b -= b @ projector
    return np.asarray(np.einsum("km,mn,kn->k", b, meat, b) / np.einsum("km,km->k", contrasts, b))


def profile_intervals(
    pairs: Pairs,
    *,
    anchor: int | None,
    confidence: float,
    names: Sequence[str],
    pair_weight: NDArray[np.float64] | None = None,
    bounds: bool = True,
) -> Profile:
    """Profile-likelihood intervals of every model's ψ (see the module docstring).

    Parameters
    ----------
    pairs : Pairs
        Aggregated pair counts.
    names : sequence of str
        Model names (they break ties between equally large candidate cores).
    anchor : int or None
        Index of the anchor model (its strong component's reference is the anchor alone),
        or ``None``: each component's reference is its core.
    confidence : float
        Coverage of the intervals (threshold χ²₁(confidence) / 2 on the log-likelihood).
    pair_weight : ndarray or None
        When the counts of ``pairs`` are weighted (each battle of pair p counts
        ``pair_weight[p]`` times), the weighted log-likelihood's ratio statistic is
        about κ_k χ²₁ rather than χ²₁, so model k's threshold is κ_k χ²₁(confidence) / 2
        [4]_: κ_k = cᵀH⁻¹GH⁻¹c / cᵀH⁻¹c (H the weighted information, G the weighted
        score variance) for a model of the core, and the mean weight of its battles,
        Σ w² n / Σ w n, for a model whose optimum is at infinity.
    bounds : bool
        ``False``: the point estimates ``psi`` only, the same numbers as with the bounds
        (a model whose ψ is unbounded still costs the exact search for the finite end of its
        50 % interval); ``lower`` and ``upper`` are then NaN. The bounds of the core (one
        vectorised chord iteration over every model and side) are most of the cost.

    References
    ----------
    .. [4] R. M. Royall, "Model robust confidence intervals using maximum likelihood
       estimators", International Statistical Review 54 (1986), 221-226; R. E. Chandler
       and S. Bate, "Inference for clustered data using the independence log-likelihood",
       Biometrika 94 (2007), 167-183.
    """
    m = pairs.n_models
    half_q = 0.5 * float(chi2.ppf(confidence, 1))
    z = float(np.sqrt(2.0 * half_q))
    strong = strong_components(
        m, pairs.i, pairs.j, pairs.wins_ij, pairs.wins_ji, pairs.ties
    ).astype(np.int64)
    weak = pairs.component
    size = np.bincount(strong)
    reference, core = reference_sets(pairs, anchor=anchor, names=names)
    n_weak = int(weak.max()) + 1

    # Each strong component's own maximum; the core's optimum in the ψ gauge.
    inside = strong[pairs.i] == strong[pairs.j]
    by_strong = _subset(pairs, inside)
    theta_strong = fit_point(by_strong, 0.0)
    ell_strong = np.bincount(strong[by_strong.i], _pair_loglik(by_strong, theta_strong), len(size))
    in_core = inside & core[pairs.i]
    core_pairs = _subset(pairs, in_core)
    # no comparison inside a strong group outside the cores (the usual case): the same pairs
    # as by_strong, so the same fit
    theta_hat = theta_strong if np.array_equal(in_core, inside) else fit_point(core_pairs, 0.0)
    ref_mean = np.bincount(weak[reference], theta_hat[reference], n_weak) / np.bincount(
        weak[reference], minlength=n_weak
    )
    psi = np.where(core, theta_hat - ref_mean[weak], 0.0)
    lower = np.full(m, -np.inf)
    upper = np.full(m, np.inf)
    kappa = np.ones(m)
    if pair_weight is not None:
        weighted_n = pairs.n * pair_weight
        kappa = (
            np.bincount(pairs.i, weighted_n, m) + np.bincount(pairs.j, weighted_n, m)
        ) / np.maximum(np.bincount(pairs.i, pairs.n, m) + np.bincount(pairs.j, pairs.n, m), 1e-300)

    def contrast(k: int) -> NDArray[np.float64]:
        refs = np.flatnonzero(reference & (weak == weak[k]))
        c = np.zeros(m)
        c[refs] = -1.0 / len(refs)
        c[k] += 1.0
        return c

    # A lone reference (the anchor, or a one-model core) has ψ = 0 by definition.
    alone = reference & (np.bincount(weak[reference], minlength=n_weak)[weak] == 1)
    lower[alone] = upper[alone] = 0.0
    idx = np.flatnonzero(core & ~alone)
    exact: list[tuple[int, int]] = []
    if len(idx) and bounds:
        contrasts = np.array([contrast(k) for k in idx.tolist()])
        if pair_weight is not None:
            kappa[idx] = _sandwich_ratio(core_pairs, pair_weight[in_core], theta_hat, contrasts)
        target = float(_loglik(core_pairs, theta_hat[None])[0]) - half_q * kappa[idx]
        chord, done = _chord_bounds(
            core_pairs, theta_hat, contrasts, target, z * np.sqrt(kappa[idx])
        )
        lower[idx] = np.where(done[0], chord[0], np.nan)
        upper[idx] = np.where(done[1], chord[1], np.nan)
        exact += [(int(k), -1) for k in idx[~done[0]]] + [(int(k), 1) for k in idx[~done[1]]]

    fwd = np.concatenate([(pairs.wins_ij + pairs.ties) > 0, (pairs.wins_ji + pairs.ties) > 0])
    scored = sparse.csr_matrix(
        (
            np.ones(int(fwd.sum())),
            (np.concatenate([pairs.i, pairs.j])[fwd], np.concatenate([pairs.j, pairs.i])[fwd]),
        ),
        shape=(m, m),
    )
    scored_by = scored.T.tocsr()
    for k in np.flatnonzero(~core).tolist():
        r = int(np.flatnonzero(reference & (weak == weak[k]))[0])
        below_k, above_k = _reach(scored, k), _reach(scored_by, k)
        if below_k[r]:  # k is above the reference group: only a lower bound
            exact.append((int(k), -1))
        elif above_k[r]:  # below it: only an upper bound
            exact.append((int(k), 1))

    def bound(k: int, side: int, half: float) -> float:
        """Model k's bound on ``side`` at log-likelihood drop κ_k · ``half``, exactly."""
        r = int(np.flatnonzero(reference & (weak == weak[k]))[0])
        if core[k]:
            block = np.flatnonzero(core & (weak == weak[k]))
        elif side == -1:
            block = np.flatnonzero(_reach(scored, k) & _reach(scored_by, r))
        else:
            block = np.flatnonzero(_reach(scored_by, k) & _reach(scored, r))
        target = float(ell_strong[np.unique(strong[block])].sum()) - half * kappa[k]
        return _exact_bound(
            _restrict(pairs, block),
            contrast(k)[block],
            side,
            target,
            psi[k] if core[k] else 0.0,
            max(1.0, z * np.sqrt(kappa[k])),
        )

    for k, side in exact if bounds else ():
        if side == -1:
            lower[k] = bound(k, side, half_q)
        else:
            upper[k] = bound(k, side, half_q)
    # A model whose ψ is unbounded is reported at the finite end of its 50 % interval
    # (0 when it has none): see bradley_terry's ``ci`` for why.
    half_point = 0.5 * float(chi2.ppf(min(0.5, confidence), 1))
    for k, side in exact:
        if not core[k]:
            psi[k] = bound(k, side, half_point)
    if not bounds:
        lower[:] = upper[:] = np.nan
    return Profile(psi=psi, lower=lower, upper=upper, core=core)
