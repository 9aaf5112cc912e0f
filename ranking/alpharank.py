"""α-Rank: evolutionary ranking of strategies by the stationary distribution of a Markov chain.

α-Rank (Omidshafiei et al., 2019) ranks the pure strategy profiles of a game by the mass
that a finite-population evolutionary process (population size ``m``, selection intensity
``α``) spends in each monomorphic profile. The chain moves from a profile ``s`` to a
profile ``r`` that differs in one population's strategy with probability ``η·ρ(s→r)``,
where ``ρ`` is the fixation probability of the mutant strategy and
``η = 1 / Σ_k (|S_k| − 1)``.

Everything here is computed in log space: ``log ρ`` is evaluated with ``expm1``/``log1p``
style formulas that stay finite for any α (OpenSpiel's ``(1 − e^{−u})/(1 − e^{−mu})``
overflows once ``|u|`` passes ~700), and the stationary distribution is found by the
Grassmann-Taksar-Heyman (GTH) state reduction on a row-scaled generator. GTH uses only
additions of non-negative numbers, so every mass is computed to relative precision; the
row scaling is a change of time that lets near-absorbing profiles (whose exit rates
underflow in linear space) keep their exact weight. When the linear-space reduction would
lose precision, the same reduction runs in log space.

Precision at huge α is set by the problem, not the solver: a log rate near
``-(m - 1)·α·Δf`` is known to about ``eps·(m - 1)·α·|Δf|`` in absolute terms, so masses that
hinge on comparing such rates (for example two strict equilibria) carry a relative error of
that size, about 1e-6 at α = 1e8 with payoff gaps of order 1 and m = 50. Masses smaller
than about 1e-300 of the largest are reported as 0 and share the last rank.

References
----------
.. [1] S. Omidshafiei, C. Papadimitriou, G. Piliouras, K. Tuyls, M. Rowland, J.-B. Lespiau,
   W. M. Czarnecki, M. Lanctot, J. Perolat, R. Munos. "α-Rank: Multi-Agent Evaluation by
   Evolution". Scientific Reports 9, 9937 (2019).
.. [2] W. K. Grassmann, M. I. Taksar, D. P. Heyman. "Regenerative analysis and steady state
   distributions for Markov chains". Operations Research 33(5), 1107-1116 (1985).
.. [3] OpenSpiel, ``open_spiel/python/egt/alpharank.py`` (the conventions followed here:
   local selection model by default, profile ids in C order).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import logsumexp

from ranking._bootstrap import percentile_interval
from ranking._validation import as_rng, check_positive_int, check_probability, seed_param
from ranking.battles import components
from ranking.errors import InputError
from ranking.types import RatingResult

#: The α values of :func:`alpharank_sweep` when none are given.
DEFAULT_SWEEP_ALPHAS: tuple[float, ...] = (
    0.01,
    0.1,
    1.0,
    10.0,
    100.0,
    1_000.0,
    10_000.0,
    100_000.0,
    1_000_000.0,
)

#: Largest number of pure profiles (the chain is a dense profiles × profiles matrix).
MAX_PROFILES: int = 5_000

_NEUTRAL_ATOL = 1e-14  # |α·Δf| below this is neutral drift, ρ = 1/m (as OpenSpiel)
_RANK_RTOL = 1e-9  # masses closer than this (relative) share a rank
_BLOCK = 32


@dataclass(frozen=True)
class AlphaRankResult:
    """The α-Rank stationary distribution over pure strategy profiles.

    Attributes
    ----------
    alpha : float
        Selection intensity (``inf`` for the infinite-α model).
    population_size : int
        The population size ``m`` of every population.
    strategies : tuple of tuple of str
        Strategy names of each population.
    profiles : ndarray of int, shape (n_profiles, n_populations)
        Strategy index of each population in each profile; profile ids are in C order
        (the last population varies fastest), as in OpenSpiel.
    mass : ndarray of float, shape (n_profiles,)
        Stationary mass of each profile; sums to 1. Masses below about 1e-300 of the
        largest are reported as 0.
    lower, upper : ndarray of float or None
        Bootstrap interval of each mass (only from :func:`alpharank_from_battles` with
        ``rounds > 0``).
    params : dict
        The parameters that produced the result (JSON-able).
    unplayed : tuple of (str, str)
        Pairs that never met in the battles (their win rate was set to ½).
    """

    alpha: float
    population_size: int
    strategies: tuple[tuple[str, ...], ...]
    profiles: NDArray[np.int64]
    mass: NDArray[np.float64]
    lower: NDArray[np.float64] | None = None
    upper: NDArray[np.float64] | None = None
    params: dict[str, Any] = field(default_factory=dict)
    unplayed: tuple[tuple[str, str], ...] = ()

    @property
    def names(self) -> list[tuple[str, ...]]:
        """Strategy names of each profile (one name per population)."""
        return [tuple(self.strategies[k][s] for k, s in enumerate(p)) for p in self.profiles]

    @property
    def rank(self) -> NDArray[np.int64]:
        """1 + the number of profiles with a larger mass (equal masses share a rank)."""
        return _ranks(self.mass)

    def order(self) -> NDArray[np.int64]:
        """Profile indices sorted by mass, largest first (ties by profile id)."""
        return np.lexsort((np.arange(self.mass.size), -self.mass)).astype(np.int64)

    def to_rows(self) -> list[dict[str, Any]]:
        """One row per profile, sorted by mass, largest first."""
        rank = self.rank
        names = self.names
        rows: list[dict[str, Any]] = []
        for i in self.order():
            row: dict[str, Any] = {
                "profile": [int(s) for s in self.profiles[i]],
                "names": list(names[i]),
                "mass": float(self.mass[i]),
                "rank": int(rank[i]),
            }
            if self.lower is not None and self.upper is not None:
                row["lower"] = float(self.lower[i])
                row["upper"] = float(self.upper[i])
            rows.append(row)
        return rows

    def to_json(self) -> dict[str, Any]:
        """Return the DESIGN.md JSON document of ``python -m ranking alpharank``."""
        doc: dict[str, Any] = {
            "alpha": _json_alpha(self.alpha),
            "population_size": int(self.population_size),
            "profiles": self.to_rows(),
        }
        if self.unplayed:
            doc["unplayed"] = [list(p) for p in self.unplayed]
        return doc


def _json_alpha(alpha: float) -> float | str:
    return "inf" if math.isinf(alpha) else float(alpha)


def _ranks(mass: NDArray[np.float64]) -> NDArray[np.int64]:
    """1 + the number of masses clearly larger (``m_j > m_i`` beyond a relative 1e-9)."""
    ascending = np.sort(mass)
    threshold = mass / (1.0 - _RANK_RTOL)
    larger = mass.size - np.searchsorted(ascending, threshold, side="right")
    return (1 + larger).astype(np.int64)


# --------------------------------------------------------------------------- validation


def _check_alpha(alpha: Any) -> float:
    try:
        a = float(alpha)
    except (TypeError, ValueError):
        raise InputError(f"alpha must be a non-negative number or inf; got {alpha!r}") from None
    if math.isnan(a) or a < 0:
        raise InputError(f"alpha must be a non-negative number or inf; got {alpha!r}")
    return a


def _check_population_size(m: Any) -> int:
    if isinstance(m, bool) or not isinstance(m, int | np.integer) or m < 2:
        raise InputError(f"population_size must be an integer of at least 2; got {m!r}")
    return int(m)


def _as_table(value: Any, what: str) -> NDArray[np.float64]:
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(
            f"{what} must be a rectangular array of numbers (ragged rows or non-numbers found)"
        ) from None
    if arr.dtype == object:  # pragma: no cover - numpy raises above for ragged input
        raise InputError(f"{what} must be a rectangular array of numbers")
    if not np.all(np.isfinite(arr)):
        bad = tuple(int(i) for i in np.argwhere(~np.isfinite(arr))[0])
        raise InputError(f"{what} must hold finite numbers; entry {list(bad)} is {float(arr[bad])}")
    return arr


def _normalise_payoffs(payoffs: Any) -> list[NDArray[np.float64]]:
    """One square matrix (one population) or K payoff tensors of K dimensions each."""
    if isinstance(payoffs, np.ndarray) and payoffs.ndim != 1:
        tables = [payoffs] if payoffs.ndim == 2 else list(payoffs)
    elif isinstance(payoffs, Sequence) and not isinstance(payoffs, str | bytes):
        if len(payoffs) == 0:
            raise InputError("payoffs must not be empty")
        first = payoffs[0]
        depth = 0
        probe: Any = first
        while isinstance(probe, Sequence | np.ndarray) and not isinstance(probe, str | bytes):
            depth += 1
            if len(probe) == 0:
                break
            probe = probe[0]
        tables = [payoffs] if depth == 1 else list(payoffs)  # type: ignore[list-item]
    else:
        raise InputError("payoffs must be a square matrix or a list of payoff tensors")
    arrays = [_as_table(t, f"payoff table {k + 1}") for k, t in enumerate(tables)]
    if len(arrays) == 1:
        m = arrays[0]
        if m.ndim != 2 or m.shape[0] != m.shape[1]:
            raise InputError(
                f"a one-population payoff table must be a square matrix; got shape {list(m.shape)}"
            )
        if m.shape[0] < 1:
            raise InputError("the payoff matrix must have at least one strategy")
        return arrays
    n_pop = len(arrays)
    shape = arrays[0].shape
    for k, t in enumerate(arrays):
        if t.ndim != n_pop:
            raise InputError(
                f"payoff table {k + 1} must have {n_pop} dimensions (one per population); "
                f"got shape {list(t.shape)}"
            )
        if t.shape != shape:
            raise InputError(
                f"payoff table {k + 1} has shape {list(t.shape)}; expected {list(shape)} "
                "like payoff table 1"
            )
    if min(shape) < 1:
        raise InputError("every population needs at least one strategy")
    return arrays


def _normalise_strategies(strategies: Any, sizes: Sequence[int]) -> tuple[tuple[str, ...], ...]:
    if strategies is None:
        if len(sizes) == 1:
            return (tuple(str(i) for i in range(sizes[0])),)
        return tuple(tuple(str(i) for i in range(n)) for n in sizes)
    if not isinstance(strategies, Sequence) or isinstance(strategies, str):
        raise InputError("strategies must be a list of name lists, one per population")
    if len(sizes) == 1 and strategies and all(isinstance(s, str) for s in strategies):
        strategies = [strategies]
    if len(strategies) != len(sizes):
        raise InputError(
            f"strategies must hold {len(sizes)} name list(s), one per population; "
            f"got {len(strategies)}"
        )
    out = []
    for k, (names, n) in enumerate(zip(strategies, sizes)):
        if isinstance(names, str) or not isinstance(names, Sequence) or len(names) != n:
            raise InputError(f"strategies[{k}] must list {n} names (population {k + 1})")
        out.append(tuple(str(x) for x in names))
    return tuple(out)


# --------------------------------------------------------------------- fixation and chain


def _log_neg_expm1(x: NDArray[np.float64]) -> NDArray[np.float64]:
    """log(1 − e^{−x}) for x > 0, accurate for tiny and huge x."""
    out = np.empty_like(x)
    big = x > 0.6931471805599453
    out[big] = np.log1p(-np.exp(-x[big]))
    small = ~big
    out[small] = np.log(-np.expm1(-x[small]))
    return out


def log_fixation(u: ArrayLike, population_size: int) -> NDArray[np.float64]:
    """Log fixation probability of a mutant with constant selection advantage ``u``.

    ``ρ(u) = (1 − e^{−u}) / (1 − e^{−m·u})`` with ``u = α·(f_mutant − f_resident)``; the
    neutral limit ``u → 0`` is ``1/m``. Evaluated as
    ``min(u, 0)·(m − 1) + log(1 − e^{−|u|}) − log(1 − e^{−m|u|})``, finite for any finite u.

    Parameters
    ----------
    u : array_like
        Selection advantage of the mutant, ``α·(f_mutant − f_resident)``.
    population_size : int
        Population size ``m`` (at least 2).

    Returns
    -------
    ndarray
        ``log ρ(u)``, elementwise.
    """
    m = _check_population_size(population_size)
    u = np.asarray(u, dtype=np.float64)
    au = np.abs(u)
    neutral = au <= _NEUTRAL_ATOL
    safe = np.where(neutral, 1.0, au)
    out = np.minimum(u, 0.0) * (m - 1) + _log_neg_expm1(safe) - _log_neg_expm1(m * safe)
    return np.where(neutral, -math.log(m), out)


def _log_rho_global(mm: NDArray[np.float64], alpha: float, m: int) -> NDArray[np.float64]:
    """Single-population fixation with fitness against the whole population (not local).

    The mutant ``r`` with ``p`` copies among ``m`` against resident ``s``: fitness gap
    ``d_p = A + B·p``; ``ρ = 1 / Σ_{l=0}^{m-1} exp(−α Σ_{p≤l} d_p)``.
    """
    n = mm.shape[0]
    diag = np.diag(mm)
    mrs = mm  # [s, r] indexing below: resident s (row), mutant r (column)
    m_rs = mrs.T  # payoff of r against s, placed at [s, r]
    m_sr = mrs  # payoff of s against r at [s, r]
    m_rr = diag[None, :]
    m_ss = diag[:, None]
    a_coef = (m * m_rs - m_rr - (m - 1) * m_ss) / (m - 1)
    b_coef = (m_rr - m_rs + m_ss - m_sr) / (m - 1)
    ls = np.arange(m, dtype=np.float64)
    lin = ls
    quad = ls * (ls + 1) / 2.0
    out = np.empty((n, n))
    chunk = max(1, 2_000_000 // max(1, n * m))
    for start in range(0, n, chunk):
        sl = slice(start, min(n, start + chunk))
        s_l = a_coef[sl, :, None] * lin + b_coef[sl, :, None] * quad
        out[sl] = -logsumexp(-alpha * s_l, axis=2)
    return out


def _single_log_rates(
    mm: NDArray[np.float64], alpha: float, m: int, local: bool, eps: float
) -> NDArray[np.float64]:
    n = mm.shape[0]
    log_eta = -math.log(n - 1)
    gain = mm.T - mm  # [s, r]: payoff of r against s minus payoff of s against r
    if math.isinf(alpha):
        rates = _inf_alpha_rates(gain, eps)
    elif local:
        # u is antisymmetric and log ρ(−u) = log ρ(u) − (m − 1)·u: evaluate one triangle
        iu, ju = np.triu_indices(n, 1)
        with np.errstate(over="ignore", invalid="ignore"):
            u = alpha * gain[iu, ju]
        _check_finite_u(u)
        upper = log_fixation(u, m)
        lower = np.where(np.abs(u) <= _NEUTRAL_ATOL, upper, upper - (m - 1) * u)
        rates = np.empty((n, n))
        rates[iu, ju] = upper
        rates[ju, iu] = lower
    else:
        rates = _log_rho_global(mm, alpha, m)
        if not np.all(np.isfinite(rates[~np.eye(n, dtype=bool)])):
            raise InputError("alpha times the payoff range overflows; rescale the payoffs")
    out = rates + log_eta
    np.fill_diagonal(out, -np.inf)
    return out


def _inf_alpha_rates(gain: NDArray[np.float64], eps: float) -> NDArray[np.float64]:
    """OpenSpiel's infinite-α model: better moves get 1 − ε, worse ε, ties ½."""
    out = np.where(gain > 0, math.log1p(-eps), math.log(eps))
    return np.where(np.abs(gain) <= _NEUTRAL_ATOL, math.log(0.5), out)


def _check_finite_u(u: NDArray[np.float64]) -> None:
    if not np.all(np.isfinite(u)):
        raise InputError("alpha times the payoff differences overflows; rescale the payoffs")


def _multi_log_rates(
    tables: list[NDArray[np.float64]], alpha: float, m: int, eps: float
) -> NDArray[np.float64]:
    shape = tables[0].shape
    n_prof = int(np.prod(shape))
    log_eta = -math.log(sum(n - 1 for n in shape))
    ids = np.arange(n_prof).reshape(shape)
    out = np.full((n_prof, n_prof), -np.inf)
    for k, table in enumerate(tables):
        if shape[k] < 2:
            continue
        pay = np.moveaxis(table, k, -1)
        pid = np.moveaxis(ids, k, -1)
        gain = pay[..., None, :] - pay[..., :, None]  # [..., s_k, r_k]
        src = np.broadcast_to(pid[..., :, None], gain.shape)
        dst = np.broadcast_to(pid[..., None, :], gain.shape)
        off = ~np.eye(shape[k], dtype=bool)
        off = np.broadcast_to(off, gain.shape)
        g = gain[off]
        if math.isinf(alpha):
            rates = _inf_alpha_rates(g, eps)
        else:
            with np.errstate(over="ignore", invalid="ignore"):
                u = alpha * g
            _check_finite_u(u)
            rates = log_fixation(u, m)
        out[src[off], dst[off]] = rates + log_eta
    return out


# ----------------------------------------------------------------- stationary distribution


def _gth_linear(a: NDArray[np.float64]) -> tuple[NDArray[np.float64], bool]:
    """Blocked GTH on non-negative off-diagonal rates ``a`` (diagonal ignored).

    ``a`` is overwritten. Returns ``(log π, ok)`` with ``π`` unnormalised; ``ok`` is False
    when a censored exit rate became too small for linear arithmetic (the caller then
    reduces in log space).
    """
    n = a.shape[0]
    s = np.empty(n)
    hi = n
    while hi > 1:
        lo = max(1, hi - _BLOCK)
        b = hi - lo
        u = np.zeros((lo, b))
        v = np.zeros((b, lo))
        w = np.zeros((b, b))
        for k in range(hi - 1, lo - 1, -1):
            t = k - lo
            row_r = a[k, :lo] + a[k, k + 1 : hi] @ v[t + 1 :]
            row_b = a[k, lo:k]
            sk = row_r.sum() + row_b.sum()
            if not (sk > 1e-250) or not math.isfinite(sk):
                return np.zeros(n), False
            s[k] = sk
            col_r = a[:lo, k] + u[:, t + 1 :] @ w[t + 1 :, t]
            a[:lo, k] = col_r
            r_b = row_b / sk
            if t:
                a[lo:k, lo:k] += np.outer(a[lo:k, k], r_b)
            u[:, t] = col_r
            v[t] = row_r / sk
            w[t, :t] = r_b
        a[:lo, :lo] += u @ v
        hi = lo
    pi = np.empty(n)
    pi[0] = 1.0
    log_shift = 0.0
    for j in range(1, n):
        pj = float(pi[:j] @ a[:j, j]) / s[j]
        pi[j] = pj
        if pj > 1e200:
            pi[: j + 1] /= pj
            log_shift += math.log(pj)
    with np.errstate(divide="ignore"):
        return np.log(pi) + log_shift, True


def _gth_log(log_a: NDArray[np.float64]) -> NDArray[np.float64]:
    """GTH state reduction entirely in log space (exact to rounding for any dynamic range)."""
    la = log_a.copy()
    n = la.shape[0]
    np.fill_diagonal(la, -np.inf)
    ls = np.empty(n)
    for k in range(n - 1, 0, -1):
        sk = logsumexp(la[k, :k])
        if not np.isfinite(sk):
            raise InputError(
                "the α-Rank chain is reducible: its stationary distribution is "
                "not unique (alpha is infinite without noise?)"
            )
        ls[k] = sk
        upd = la[:k, k][:, None] + (la[k, :k] - sk)[None, :]
        np.logaddexp(la[:k, :k], upd, out=la[:k, :k])
    lpi = np.empty(n)
    lpi[0] = 0.0
    for j in range(1, n):
        lpi[j] = logsumexp(lpi[:j] + la[:j, j]) - ls[j]
    return lpi


def stationary_log_distribution(log_rates: ArrayLike) -> NDArray[np.float64]:
    """Log stationary distribution of a continuous-time chain given its log rates.

    Parameters
    ----------
    log_rates : array_like, shape (n, n)
        ``log_rates[s, r]`` is the log rate (or log transition probability) from ``s`` to
        ``r``; the diagonal is ignored and ``-inf`` means no transition. The chain must be
        irreducible.

    Returns
    -------
    ndarray
        ``log π`` normalised so that ``logsumexp(log π) = 0``.
    """
    lq = np.array(log_rates, dtype=np.float64)
    n = lq.shape[0]
    if n == 1:
        return np.zeros(1)
    np.fill_diagonal(lq, -np.inf)
    row_max = lq.max(axis=1)
    if not np.all(np.isfinite(row_max)):
        raise InputError("the α-Rank chain has a profile with no way out (reducible chain)")
    perm = np.argsort(row_max, kind="stable")  # stickiest profiles are reduced last
    scaled = lq[np.ix_(perm, perm)]
    scaled -= row_max[perm][:, None]
    lpi_p, ok = _gth_linear(np.exp(scaled))
    if not ok:
        lpi_p = _gth_log(scaled)
    lpi = np.empty(n)
    lpi[perm] = lpi_p - row_max[perm]
    return lpi - logsumexp(lpi)


# ------------------------------------------------------------------------- public API


def alpharank_game(
    payoffs: Any,
    *,
    alpha: float = 100.0,
    population_size: int = 50,
    strategies: Sequence[Sequence[str]] | Sequence[str] | None = None,
    local_selection: bool = True,
    inf_alpha_eps: float = 0.01,
) -> AlphaRankResult:
    """α-Rank of a one-population or multi-population game.

    Parameters
    ----------
    payoffs : array_like or sequence of array_like
        One population: a square matrix, ``M[i][j]`` = payoff to strategy ``i`` against
        ``j`` (a list holding one square matrix is the same). ``K ≥ 2`` populations: ``K``
        tensors of ``K`` dimensions, ``T_k[s_1]...[s_K]`` = payoff to population ``k``.
    alpha : float, default 100
        Selection intensity, ``α ≥ 0``; ``inf`` selects OpenSpiel's infinite-α model,
        where a better move has probability ``1 − inf_alpha_eps``.
    population_size : int, default 50
        Population size ``m ≥ 2``.
    strategies : sequence, optional
        Strategy names of each population (a flat list is accepted for one population).
    local_selection : bool, default True
        One population only: a mutant's fitness is its payoff against the resident
        (OpenSpiel's default local selection model). ``False`` uses the fitness against
        the whole finite population (Omidshafiei et al., Eq. 4 with the exact product).
    inf_alpha_eps : float, default 0.01
        Noise of the infinite-α model (used only when ``alpha`` is infinite).

    Returns
    -------
    AlphaRankResult

    Raises
    ------
    InputError
        Non-square or ragged tables, tensors of the wrong shape, NaN or infinite payoffs,
        ``alpha < 0``, ``population_size < 2``.

    References
    ----------
    Omidshafiei et al., "α-Rank: Multi-Agent Evaluation by Evolution", Sci. Rep. 9 (2019).
    """
    a = _check_alpha(alpha)
    m = _check_population_size(population_size)
    eps = check_probability("inf_alpha_eps", inf_alpha_eps)
    tables = _normalise_payoffs(payoffs)
    single = len(tables) == 1
    sizes = [tables[0].shape[0]] if single else list(tables[0].shape)
    names = _normalise_strategies(strategies, sizes)
    n_prof = int(np.prod(sizes))
    if n_prof > MAX_PROFILES:
        raise InputError(
            f"the game has {n_prof} pure profiles; at most {MAX_PROFILES} are "
            "supported (the chain is a dense matrix)"
        )
    if n_prof == 1:
        log_pi = np.zeros(1)
    elif single:
        log_pi = stationary_log_distribution(
            _single_log_rates(tables[0], a, m, bool(local_selection), eps)
        )
    else:
        log_pi = stationary_log_distribution(_multi_log_rates(tables, a, m, eps))
    mass = np.exp(log_pi)
    mass /= mass.sum()
    profiles = np.stack(np.unravel_index(np.arange(n_prof), sizes), axis=1).astype(np.int64)
    params: dict[str, Any] = {
        "alpha": _json_alpha(a),
        "population_size": m,
        "local_selection": bool(local_selection) if single else None,
    }
    if math.isinf(a):
        params["inf_alpha_eps"] = eps
    return AlphaRankResult(
        alpha=a, population_size=m, strategies=names, profiles=profiles, mass=mass, params=params
    )


def alpharank_sweep(
    payoffs: Any,
    alphas: Sequence[float] | None = None,
    *,
    population_size: int = 50,
    strategies: Sequence[Sequence[str]] | Sequence[str] | None = None,
    local_selection: bool = True,
) -> list[AlphaRankResult]:
    """α-Rank at each α of ``alphas`` (default :data:`DEFAULT_SWEEP_ALPHAS`).

    Parameters
    ----------
    payoffs : array_like or sequence of array_like
        As in :func:`alpharank_game`.
    alphas : sequence of float, optional
        Selection intensities, each ``≥ 0``; returned in the given order.
    population_size, strategies, local_selection
        As in :func:`alpharank_game`.

    Returns
    -------
    list of AlphaRankResult
        One result per α, so the ranking's dependence on α can be inspected (rankings
        settle as α grows; Omidshafiei et al. recommend the largest α that is numerically
        meaningful, which in log space is any α).
    """
    values = list(DEFAULT_SWEEP_ALPHAS if alphas is None else alphas)
    if not values:
        raise InputError("alphas must not be empty")
    return [
        alpharank_game(
            payoffs,
            alpha=a,
            population_size=population_size,
            strategies=strategies,
            local_selection=local_selection,
        )
        for a in values
    ]


def _win_rate_table(
    wins: NDArray[np.float64], ties: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    played = wins + wins.T + ties
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = (wins + 0.5 * ties) / played
    unplayed = played <= 0
    rate = np.where(unplayed, 0.5, rate)
    np.fill_diagonal(rate, 0.5)
    return rate, unplayed


def alpharank_from_battles(
    battles: Any,
    *,
    alpha: float = 100.0,
    population_size: int = 50,
    rounds: int = 0,
    confidence: float = 0.95,
    rng: int | np.random.Generator | None = None,
    local_selection: bool = True,
) -> AlphaRankResult:
    """α-Rank of models from their battles, with bootstrap intervals on the masses.

    The payoff ``M[i][j]`` is ``i``'s empirical win rate against ``j`` (a tie counts ½
    for each side); pairs that never met get ½ and are listed in ``result.unplayed``.

    Parameters
    ----------
    battles : ranking.battles.Battles
        The battles (weights, when present, count as numbers of battles).
    alpha, population_size, local_selection
        As in :func:`alpharank_game`.
    rounds : int, default 0
        Bootstrap rounds. Each round redraws the battles with replacement, which is a
        multinomial draw over the (pair, outcome) count cells, and recomputes the masses.
    confidence : float, default 0.95
        Coverage of the percentile interval (percentiles at the Weibull plotting position
        ``q·(rounds + 1)``, which does not narrow the interval when rounds are few). The
        interval is widened to contain the point estimate when every bootstrap mass falls
        on one side of it.
    rng : int, numpy Generator or None
        Source of randomness for the bootstrap.

    Returns
    -------
    AlphaRankResult
        With ``lower``/``upper`` when ``rounds > 0``.
    """
    if isinstance(rounds, bool) or not isinstance(rounds, int | np.integer) or rounds < 0:
        raise InputError(f"rounds must be a non-negative integer; got {rounds!r}")
    conf = check_probability("confidence", confidence)
    models = tuple(str(x) for x in battles.models)
    if len(models) < 1:
        raise InputError("the battles name no models")
    wins, ties = battles.pair_counts()
    rate, unplayed = _win_rate_table(np.asarray(wins, float), np.asarray(ties, float))
    base = alpharank_game(
        rate,
        alpha=alpha,
        population_size=population_size,
        strategies=[models],
        local_selection=local_selection,
    )
    iu, ju = np.triu_indices(len(models), k=1)
    missing = tuple((models[i], models[j]) for i, j in zip(iu, ju) if unplayed[i, j])
    params = dict(base.params, rounds=int(rounds), confidence=conf, n_battles=battles.n_battles)
    lower = upper = None
    if rounds > 0 and len(models) > 1:
        gen = as_rng(rng)
        cells = np.concatenate([wins[iu, ju], wins[ju, iu], ties[iu, ju]])
        total = float(cells.sum())
        n_draw = len(battles) if battles.weight is None else max(1, round(total))
        n = len(models)
        draws = (
            gen.multinomial(n_draw, cells / total, size=int(rounds))
            if total > 0
            else np.zeros((int(rounds), cells.size))
        )
        p = iu.size
        masses = np.empty((int(rounds), n))
        for b in range(int(rounds)):
            w = np.zeros((n, n))
            t = np.zeros((n, n))
            w[iu, ju] = draws[b, :p]
            w[ju, iu] = draws[b, p : 2 * p]
            t[iu, ju] = draws[b, 2 * p :]
            t[ju, iu] = draws[b, 2 * p :]
            r, _ = _win_rate_table(w, t)
            masses[b] = alpharank_game(
                r, alpha=alpha, population_size=population_size, local_selection=local_selection
            ).mass
        lower, upper = percentile_interval(masses, base.mass, confidence=conf)
    return AlphaRankResult(
        alpha=base.alpha,
        population_size=base.population_size,
        strategies=base.strategies,
        profiles=base.profiles,
        mass=base.mass,
        lower=lower,
        upper=upper,
        params=params,
        unplayed=missing,
    )


def alpharank_rating(
    battles: Any,
    *,
    alpha: float = 100.0,
    population_size: int = 50,
    rounds: int = 100,
    confidence: float = 0.95,
    rng: int | np.random.Generator | None = None,
    local_selection: bool = True,
) -> RatingResult:
    """Each model's α-Rank stationary mass as a rating, with its bootstrap interval.

    The same computation as :func:`alpharank_from_battles` (one population of models,
    payoff = empirical win rate, pairs that never met at ½), returned as a
    :class:`~ranking.types.RatingResult` indexed like ``battles.models`` so that it can be
    shown beside the other rating methods.

    Parameters
    ----------
    battles : ranking.battles.Battles
        The battles.
    alpha, population_size, local_selection
        As in :func:`alpharank_game`.
    rounds : int, default 100
        Bootstrap rounds (at least 1).
    confidence : float, default 0.95
        Coverage of the percentile interval (widened to contain the mass).
    rng : int, numpy Generator or None
        Source of randomness for the bootstrap.

    Returns
    -------
    RatingResult
        ``method="alpharank"``, ``rating`` = stationary mass in [0, 1] (sums to 1), with
        ``lower``/``upper``. A lone model has mass 1 and the interval [1, 1].
    """
    rounds = check_positive_int("rounds", rounds)
    result = alpharank_from_battles(
        battles,
        alpha=alpha,
        population_size=population_size,
        rounds=rounds,
        confidence=confidence,
        rng=rng,
        local_selection=local_selection,
    )
    where = result.profiles[:, 0]
    mass = np.zeros(len(where))
    mass[where] = result.mass
    lower, upper = mass.copy(), mass.copy()
    if result.lower is not None and result.upper is not None:
        lower[where], upper[where] = result.lower, result.upper
    seed = seed_param(rng)
    params = {
        "alpha": _json_alpha(result.alpha),
        "population_size": result.population_size,
        "local_selection": bool(local_selection),
        "ci": "bootstrap",
        "rounds": rounds,
        "confidence": result.params["confidence"],
        "seed": seed,
    }
    return RatingResult(
        method="alpharank",
        params=params,
        models=[str(m) for m in battles.models],
        rating=mass,
        lower=lower,
        upper=upper,
        battles=battles.battles_per_model(),
        component=components(battles),
        n_battles=battles.n_battles,
    )


__all__ = [
    "DEFAULT_SWEEP_ALPHAS",
    "AlphaRankResult",
    "alpharank_from_battles",
    "alpharank_game",
    "alpharank_rating",
    "alpharank_sweep",
    "log_fixation",
    "stationary_log_distribution",
]
