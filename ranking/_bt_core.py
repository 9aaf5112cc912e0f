"""The Bradley-Terry core shared by the fit and its profile-likelihood intervals.

The aggregated pair counts, the comparison graph's strong components, the gauge (each
connected component centred on 0) and Newton's method on the pair counts. Both
:mod:`ranking.bradley_terry` and :mod:`ranking._profile` build on these; neither imports
the other's internals.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import sparse
from scipy.sparse.csgraph import connected_components
from scipy.special import expit

from ranking.battles import Battles, _components_from_counts
from ranking.errors import ConvergenceError

MAX_ITER = 200
STEP_TOL = 1e-11


@dataclass(frozen=True)
class Pairs:
    """Aggregated counts of the model pairs that met (``i < j``)."""

    n_models: int
    i: NDArray[np.int64]
    j: NDArray[np.int64]
    wins_ij: NDArray[np.float64]
    wins_ji: NDArray[np.float64]
    ties: NDArray[np.float64]
    component: NDArray[np.int64]

    @property
    def n(self) -> NDArray[np.float64]:
        """Battles of each pair."""
        return self.wins_ij + self.wins_ji + self.ties

    @property
    def score(self) -> NDArray[np.float64]:
        """Points of ``i`` against ``j`` in each pair (a tie counts half)."""
        return self.wins_ij + 0.5 * self.ties


def pairs_from_battles(battles: Battles) -> Pairs:
    """Aggregate the battles to the counts of every pair that met."""
    wins, ties = battles.pair_counts()
    games = wins + wins.T + ties
    i, j = np.nonzero(np.triu(games > 0, k=1))
    return Pairs(
        battles.n_models,
        i.astype(np.int64),
        j.astype(np.int64),
        wins[i, j],
        wins[j, i],
        ties[i, j],
        _components_from_counts(games),
    )


def strong_components(
    n_models: int,
    i: NDArray[np.int64],
    j: NDArray[np.int64],
    ij: NDArray[np.float64],
    ji: NDArray[np.float64],
    ties: NDArray[np.float64],
) -> NDArray[np.int32]:
    """Label the strong components of the 'scored at least half a point against' graph."""
    fwd = (ij > 0) | (ties > 0)
    bwd = (ji > 0) | (ties > 0)
    rows = np.concatenate([i[fwd], j[bwd]])
    cols = np.concatenate([j[fwd], i[bwd]])
    graph = sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n_models, n_models))
    _, labels = connected_components(graph, directed=True, connection="strong")
    return labels


def unbounded_models(pairs: Pairs) -> NDArray[np.int64]:
    """Return the models whose maximum-likelihood rating is infinite (none when the MLE exists)."""
    strong = strong_components(
        pairs.n_models, pairs.i, pairs.j, pairs.wins_ij, pairs.wins_ji, pairs.ties
    )
    if len(np.unique(strong)) == len(np.unique(pairs.component)):
        return np.zeros(0, dtype=np.int64)
    # A strong component that is not a whole weak component has unbounded ratings.
    sizes_strong = np.bincount(strong)
    sizes_weak = np.bincount(pairs.component)
    return np.flatnonzero(sizes_strong[strong] < sizes_weak[pairs.component]).astype(np.int64)


def gauge_projector(component: NDArray[np.int64]) -> NDArray[np.float64]:
    """Return Σ_c 1_c 1_cᵀ / |c|, the projection onto per-component means."""
    onehot = (component[:, None] == np.arange(component.max() + 1)[None, :]).astype(float)
    return (onehot / onehot.sum(axis=0)) @ onehot.T


def incidence_matrix(pairs: Pairs) -> sparse.csr_matrix:
    """Return the pair-by-model matrix D with D θ = θ_i - θ_j for every pair."""
    p_count = len(pairs.i)
    return sparse.csr_matrix(
        (
            np.concatenate([np.ones(p_count), -np.ones(p_count)]),
            (np.concatenate([np.arange(p_count)] * 2), np.concatenate([pairs.i, pairs.j])),
        ),
        shape=(p_count, pairs.n_models),
    )


def newton(
    pairs: Pairs,
    score: NDArray[np.float64],
    n: NDArray[np.float64],
    ridge: NDArray[np.float64],
    theta0: NDArray[np.float64] | None = None,
) -> NDArray[np.float64]:
    """Maximise Σ [s log σ(θi-θj) + (n-s) log σ(θj-θi)] - ½ ridge ‖θ‖², batched.

    ``score`` and ``n`` have shape ``(R, P)``; ``ridge`` shape ``(R,)``. Returns θ of shape
    ``(R, n_models)`` in natural-log units, each component centred on 0. Steps that move
    some logit by more than ½ are checked by backtracking; shorter Newton steps on this
    logistic likelihood always decrease it, so they are taken as they are.
    """
    m = pairs.n_models
    rounds = score.shape[0]
    i, j = pairs.i, pairs.j
    incidence = incidence_matrix(pairs)
    abs_incidence = abs(incidence)
    projector = gauge_projector(pairs.component)
    diag = np.arange(m)
    theta = (
        np.zeros((rounds, m))
        if theta0 is None
        else np.array(np.broadcast_to(theta0, (rounds, m)), dtype=np.float64)
    )
    theta -= theta @ projector
    ridge_col = ridge[:, None]
    hess = np.empty((rounds, m, m))

    def objective(th: NDArray[np.float64], rows: NDArray[np.int64]) -> NDArray[np.float64]:
        d = th[:, i] - th[:, j]
        loglik = (score[rows] * d - n[rows] * np.logaddexp(0.0, d)).sum(1)
        return 0.5 * ridge[rows] * (th * th).sum(1) - loglik

    for _ in range(MAX_ITER):
        d = theta[:, i] - theta[:, j]
        p = expit(d)
        resid = score - n * p
        grad = ridge_col * theta - (incidence.T @ resid.T).T
        v = n * p * (1.0 - p)
        hess.fill(0.0)
        hess[:, i, j] = -v
        hess[:, j, i] = -v
        hess[:, diag, diag] = (abs_incidence.T @ v.T).T + ridge_col
        level = hess[:, diag, diag].mean(axis=1) + 1.0
        hess += level[:, None, None] * projector
        delta = -np.linalg.solve(hess, grad[..., None])[..., 0]
        delta -= delta @ projector
        step = np.ones(rounds)
        move = np.abs(delta[:, i] - delta[:, j]).max(axis=1, initial=0.0)
        check = np.flatnonzero(move > 0.5)
        if len(check):
            decrement = -(grad[check] * delta[check]).sum(1)
            value = objective(theta[check], check)
            t = np.ones(len(check))
            for _ in range(60):
                new_value = objective(theta[check] + t[:, None] * delta[check], check)
                ok = (new_value <= value - 1e-4 * t * decrement) | (t < 1e-12)
                if ok.all():
                    break
                t = np.where(ok, t, 0.5 * t)
            step[check] = t
        theta = theta + step[:, None] * delta
        theta -= theta @ projector
        if np.abs(step[:, None] * delta).max(initial=0.0) < STEP_TOL:
            return theta
    raise ConvergenceError(
        f"Bradley-Terry: Newton's method did not converge in {MAX_ITER} iterations"
    )


def fit_point(pairs: Pairs, ridge: float) -> NDArray[np.float64]:
    """Return the (ridge-penalised) maximum-likelihood θ of ``pairs``, components centred."""
    return newton(pairs, pairs.score[None, :], pairs.n[None, :], np.array([ridge]))[0]
