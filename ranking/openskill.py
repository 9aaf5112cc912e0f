"""OpenSkill (Weng-Lin Bayesian) ratings of models from battles, wrapping the openskill package.

Each model carries a Gaussian belief ``N(μ, σ²)`` about its skill; every battle updates
the two beliefs in turn (an online method, so the order of battles matters: battles are
processed by ``tstamp`` when the battles have one, otherwise in their given order). A tie
of either kind is a draw (equal ranks). The five Weng-Lin models of the openskill package
are available; Plackett-Luce is the default.

Battles are rated by scalar twins of the package's two-player update (``_rate_battles``):
the arithmetic of ``model.rate([[winner], [loser]])`` (a decisive battle, winner first) and
of ``model.rate([[a], [b]], ranks=[0, 0])`` (a tie) for two teams of one player, unrolled to
float operations in the package's order, so the results are equal to the last bit (tested
against the package path, ``_rate_battles_package``, on random battles) and about 10-20
times faster than one ``rate`` call per battle. A ``-part`` model with ``window_size=0``,
and every model when the installed openskill is not the twinned release (6.2.0), still go
through the package.

K-wise free-for-all votes (one vote orders K answers at once) go through
:func:`openskill_rank_update`, which calls the package directly.

References
----------
.. [1] R. C. Weng, C.-J. Lin. "A Bayesian Approximation Method for Online Ranking".
   Journal of Machine Learning Research 12, 267-300 (2011).
.. [2] V. Joshy. openskill.py, https://github.com/vivekjoshy/openskill.py (6.x).
"""

from __future__ import annotations

import importlib.metadata
import math
import sys
from collections.abc import Mapping, Sequence
from statistics import NormalDist
from typing import Any

import numpy as np
from openskill.models import (
    BradleyTerryFull,
    BradleyTerryPart,
    PlackettLuce,
    ThurstoneMostellerFull,
    ThurstoneMostellerPart,
)

from ranking._validation import check_choice, check_finite, check_positive, check_probability
from ranking.battles import components
from ranking.errors import InputError
from ranking.types import A_WINS, B_WINS, RatingResult

#: CLI / API names of the Weng-Lin models and the openskill class behind each.
OPENSKILL_MODELS: dict[str, type] = {
    "plackett-luce": PlackettLuce,
    "bradley-terry-full": BradleyTerryFull,
    "bradley-terry-part": BradleyTerryPart,
    "thurstone-mosteller-full": ThurstoneMostellerFull,
    "thurstone-mosteller-part": ThurstoneMostellerPart,
}

#: Battles whose Python lists are made at once (the state carries over between blocks).
_BLOCK = 65_536

#: σ multiple subtracted from μ in the conservative score (openskill's ``ordinal``).
ORDINAL_Z: float = 3.0


def _engine_kwargs(
    model: str,
    mu: float,
    sigma: float,
    beta: float,
    kappa: float,
    tau: float,
    epsilon: float,
    window_size: int,
    limit_sigma: bool,
) -> tuple[str, dict[str, Any]]:
    """Check the parameters; return the model name and the keywords of its openskill class."""
    model = check_choice("model", model, tuple(OPENSKILL_MODELS))
    mu = check_finite("mu", mu)
    sigma = check_positive("sigma", sigma)
    beta = check_positive("beta", beta)
    kappa = check_positive("kappa", kappa)
    tau = check_finite("tau", tau)
    if tau < 0:
        raise InputError(f"tau must be non-negative; got {tau!r}")
    epsilon = check_finite("epsilon", epsilon)
    if epsilon < 0:
        raise InputError(f"epsilon must be non-negative; got {epsilon!r}")
    if (
        isinstance(window_size, bool)
        or not isinstance(window_size, int | np.integer)
        or window_size < 0
    ):
        raise InputError(f"window_size must be a non-negative integer; got {window_size!r}")
    kwargs: dict[str, Any] = {
        "mu": mu,
        "sigma": sigma,
        "beta": beta,
        "kappa": kappa,
        "tau": tau,
        "limit_sigma": limit_sigma,
    }
    if model.startswith("thurstone"):
        kwargs["epsilon"] = epsilon
    if model.endswith("-part"):
        kwargs["window_size"] = int(window_size)
    return model, kwargs


def _rate_battles_package(
    model_obj: Any,
    mus: list[float],
    sigmas: list[float],
    a: list[int],
    b: list[int],
    outcome: list[int],
) -> None:
    """Update ``mus`` and ``sigmas`` in place, one ``model_obj.rate`` call per battle.

    The package path, kept as the reference of the scalar twins below (and used for any
    model without one).
    """
    ratings = [model_obj.rating(mu=m, sigma=s) for m, s in zip(mus, sigmas)]
    rate = model_obj.rate
    for i, j, o in zip(a, b, outcome):
        if o == A_WINS:
            [[ri], [rj]] = rate([[ratings[i]], [ratings[j]]])
        elif o == B_WINS:
            [[rj], [ri]] = rate([[ratings[j]], [ratings[i]]])
        else:
            [[ri], [rj]] = rate([[ratings[i]], [ratings[j]]], ranks=[0, 0])
        ratings[i], ratings[j] = ri, rj
    for k, r in enumerate(ratings):
        mus[k], sigmas[k] = r.mu, r.sigma


# ---------------------------------------------------------------- scalar twins
#
# openskill 6.2.0's ``rate`` for two teams of one player, unrolled to float arithmetic.
# Every operation is the package's own, in the package's order, so the results are equal
# bit for bit (tests/ranking/test_openskill.py checks this against the package path):
#
# * ``rate`` first adds the dynamics, ``σ ← sqrt(σ·σ + τ·τ)``, on a copy of each player;
#   with ``limit_sigma`` the final σ is ``min(σ_new, σ_before_tau)``.
# * A team of one has ``μ_team = μ`` and ``σ²_team = σ**2`` (no ``balance``, no weights);
#   the player's share ``σ**2 / σ²_team`` is exactly 1, so the player takes the team's
#   ``Ω`` and ``Δ``: ``μ ← μ + Ω``, ``σ ← σ·sqrt(max(1 − Δ, κ))``.
# * The default ``gamma`` is ``sqrt(σ²_team) / c``.
# * A tie (``ranks=[0, 0]``) averages the tied teams' μ changes inside ``_compute``, but it
#   reads the changes from the very objects it has just updated, so the average is 0 and
#   each side keeps its own change; the twins do the same.
# * ``x**2`` is kept where the package writes it: C ``pow`` and ``x*x`` differ in the last
#   bit for about one value in a thousand.
#
# The twins assume finite intermediate values: where the package itself overflows
# (``exp(μ/c)`` of Plackett-Luce beyond about μ = 700·c) or divides by zero, they may
# return a finite number instead of an ``inf``/``nan`` or an exception.

#: The openskill release whose ``rate`` the twins reproduce; with any other installed
#: release every battle goes through the package (its arithmetic may have changed).
TWINNED_OPENSKILL = "6.2.0"


def _installed_openskill() -> str | None:
    try:
        return importlib.metadata.version("openskill")
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - installed above
        return None


_TWINS_ACTIVE = _installed_openskill() == TWINNED_OPENSKILL

_SQRT2 = math.sqrt(2.0)
_SQRT_TAU = math.sqrt(math.tau * 1.0)
_EPS = sys.float_info.epsilon


def _phi(x: float) -> float:
    """``statistics.NormalDist().cdf(x)`` with its operations (μ = 0, σ = 1)."""
    return 0.5 * (1.0 + math.erf(x / _SQRT2))


def _pdf(x: float) -> float:
    """``statistics.NormalDist().pdf(x)`` with its operations (μ = 0, σ = 1)."""
    return math.exp(x * x / -2.0) / _SQRT_TAU


def _v(x: float, t: float) -> float:
    xt = x - t
    den = _phi(xt)
    return -xt if den < _EPS else _pdf(xt) / den


def _w(x: float, t: float) -> float:
    xt = x - t
    den = _phi(xt)
    if den < _EPS:
        return 1.0 if x < 0 else 0.0
    v = _pdf(xt) / den
    return v * (v + xt)


def _vt(x: float, t: float) -> float:
    xx = abs(x)
    b = _phi(t - xx) - _phi(-t - xx)
    if b < 1e-5:
        return -x - t if x < 0 else -x + t
    a = _pdf(-t - xx) - _pdf(t - xx)
    return (-a if x < 0 else a) / b


def _wt(x: float, t: float) -> float:
    xx = abs(x)
    b = _phi(t - xx) - _phi(-t - xx)
    if b < _EPS:
        return 1.0
    vt = _vt(x, t)
    return ((t - xx) * _pdf(t - xx) + (t + xx) * _pdf(-t - xx)) / b + vt * vt


def _twin_plackett_luce(
    kw: Mapping[str, Any],
    mus: list[float],
    sigmas: list[float],
    a: list[int],
    b: list[int],
    outcome: list[int],
) -> None:
    """Plackett-Luce (``PlackettLuce._compute``, two teams of one)."""
    sqrt, exp = math.sqrt, math.exp
    tau = float(kw["tau"])
    tau_sq = tau * tau
    beta_sq = kw["beta"] ** 2
    kappa = float(kw["kappa"])
    limit = bool(kw["limit_sigma"])
    a_wins, b_wins = A_WINS, B_WINS
    for i, j, o in zip(a, b, outcome):
        if o == b_wins:
            i, j = j, i  # the package is given the winner first
            decisive = True
        else:
            decisive = o == a_wins
        m0 = mus[i]
        m1 = mus[j]
        sig0 = sigmas[i]
        sig1 = sigmas[j]
        s0 = sqrt(sig0 * sig0 + tau_sq)
        s1 = sqrt(sig1 * sig1 + tau_sq)
        ss0 = s0**2
        ss1 = s1**2
        c = sqrt((ss0 + beta_sq) + (ss1 + beta_sq))
        c2 = c**2
        e0 = exp(m0 / c)
        e1 = exp(m1 / c)
        total = e0 + e1
        p0 = e0 / total
        p1 = e1 / total
        if decisive:
            # winner: one term (q = winner); loser: q = winner, then q = itself whose
            # term, with e1 / e1 == 1, adds exactly 0 to both sums
            om0 = 1 - p0
            de0 = p0 * (1 - p0)
            om1 = -p1
            de1 = p1 * (1 - p1)
        else:
            # ranks [0, 0]: both q terms, each divided by A_q = 2
            h0 = p0 * (1 - p0) / 2
            h1 = p1 * (1 - p1) / 2
            om0 = (1 - p0) / 2 - p0 / 2
            de0 = h0 + h0
            om1 = (1 - p1) / 2 - p1 / 2
            de1 = h1 + h1
        om0 *= ss0 / c
        om1 *= ss1 / c
        de0 = de0 * (ss0 / c2) * (sqrt(ss0) / c)
        de1 = de1 * (ss1 / c2) * (sqrt(ss1) / c)
        f0 = 1 - de0
        if kappa > f0:
            f0 = kappa
        f1 = 1 - de1
        if kappa > f1:
            f1 = kappa
        n0 = s0 * sqrt(f0)
        n1 = s1 * sqrt(f1)
        if limit:
            if sig0 < n0:
                n0 = sig0
            if sig1 < n1:
                n1 = sig1
        mus[i] = m0 + om0
        mus[j] = m1 + om1
        sigmas[i] = n0
        sigmas[j] = n1


def _twin_bradley_terry(
    kw: Mapping[str, Any],
    mus: list[float],
    sigmas: list[float],
    a: list[int],
    b: list[int],
    outcome: list[int],
) -> None:
    """Bradley-Terry full, and part with ``window_size >= 1`` (one comparison, divided by 1)."""
    sqrt, exp = math.sqrt, math.exp
    tau = float(kw["tau"])
    tau_sq = tau * tau
    two_beta_sq = 2 * kw["beta"] ** 2
    kappa = float(kw["kappa"])
    limit = bool(kw["limit_sigma"])
    a_wins, b_wins = A_WINS, B_WINS
    for i, j, o in zip(a, b, outcome):
        if o == b_wins:
            i, j = j, i
            decisive = True
        else:
            decisive = o == a_wins
        if decisive:
            r0, r1 = 1.0, 0.0
        else:
            r0, r1 = 0.5, 0.5
        m0 = mus[i]
        m1 = mus[j]
        sig0 = sigmas[i]
        sig1 = sigmas[j]
        s0 = sqrt(sig0 * sig0 + tau_sq)
        s1 = sqrt(sig1 * sig1 + tau_sq)
        ss0 = s0**2
        ss1 = s1**2
        c = sqrt(ss0 + ss1 + two_beta_sq)
        p0 = 1 / (1 + exp((m1 - m0) / c))
        p1 = 1 / (1 + exp((m0 - m1) / c))
        t0 = ss0 / c
        t1 = ss1 / c
        om0 = t0 * (r0 - p0)
        om1 = t1 * (r1 - p1)
        de0 = ((sqrt(ss0) / c) * t0 / c) * p0 * (1 - p0)
        de1 = ((sqrt(ss1) / c) * t1 / c) * p1 * (1 - p1)
        f0 = 1 - de0
        if kappa > f0:
            f0 = kappa
        f1 = 1 - de1
        if kappa > f1:
            f1 = kappa
        n0 = s0 * sqrt(f0)
        n1 = s1 * sqrt(f1)
        if limit:
            if sig0 < n0:
                n0 = sig0
            if sig1 < n1:
                n1 = sig1
        mus[i] = m0 + om0
        mus[j] = m1 + om1
        sigmas[i] = n0
        sigmas[j] = n1


def _twin_thurstone_mosteller(
    kw: Mapping[str, Any],
    mus: list[float],
    sigmas: list[float],
    a: list[int],
    b: list[int],
    outcome: list[int],
    *,
    part: bool,
) -> None:
    """Thurstone-Mosteller full, and part (``c`` doubled) with ``window_size >= 1``."""
    sqrt = math.sqrt
    tau = float(kw["tau"])
    tau_sq = tau * tau
    two_beta_sq = 2 * kw["beta"] ** 2
    kappa = float(kw["kappa"])
    eps = float(kw["epsilon"])
    limit = bool(kw["limit_sigma"])
    a_wins, b_wins = A_WINS, B_WINS
    for i, j, o in zip(a, b, outcome):
        if o == b_wins:
            i, j = j, i
            decisive = True
        else:
            decisive = o == a_wins
        m0 = mus[i]
        m1 = mus[j]
        sig0 = sigmas[i]
        sig1 = sigmas[j]
        s0 = sqrt(sig0 * sig0 + tau_sq)
        s1 = sqrt(sig1 * sig1 + tau_sq)
        ss0 = s0**2
        ss1 = s1**2
        c = 2 * sqrt(ss0 + ss1 + two_beta_sq) if part else sqrt(ss0 + ss1 + two_beta_sq)
        d0 = (m0 - m1) / c
        d1 = (m1 - m0) / c
        t0 = ss0 / c
        t1 = ss1 / c
        g0 = (sqrt(ss0) / c) * t0 / c
        g1 = (sqrt(ss1) / c) * t1 / c
        t = eps / c
        if decisive:
            om0 = t0 * _v(d0, t)
            de0 = g0 * _w(d0, t)
            om1 = -t1 * _v(-d1, t)
            de1 = g1 * _w(-d1, t)
        else:
            om0 = t0 * _vt(d0, t)
            de0 = g0 * _wt(d0, t)
            om1 = t1 * _vt(d1, t)
            de1 = g1 * _wt(d1, t)
        f0 = 1 - de0
        if kappa > f0:
            f0 = kappa
        f1 = 1 - de1
        if kappa > f1:
            f1 = kappa
        n0 = s0 * sqrt(f0)
        n1 = s1 * sqrt(f1)
        if limit:
            if sig0 < n0:
                n0 = sig0
            if sig1 < n1:
                n1 = sig1
        mus[i] = m0 + om0
        mus[j] = m1 + om1
        sigmas[i] = n0
        sigmas[j] = n1


def _rate_battles(
    model: str,
    kwargs: Mapping[str, Any],
    mus: list[float],
    sigmas: list[float],
    a: list[int],
    b: list[int],
    outcome: list[int],
) -> None:
    """Update ``mus`` and ``sigmas`` in place, battle by battle, as ``model.rate`` would.

    ``model`` and ``kwargs`` as returned by :func:`_engine_kwargs`. Every model has a
    scalar twin of the package's two-player update (equal results, about 20 times faster);
    a ``-part`` model with ``window_size == 0`` (no comparison at all), and every model when
    the installed openskill is not :data:`TWINNED_OPENSKILL`, go through the package.
    """
    if not _TWINS_ACTIVE:
        _rate_battles_package(OPENSKILL_MODELS[model](**kwargs), mus, sigmas, a, b, outcome)
    elif model == "plackett-luce":
        _twin_plackett_luce(kwargs, mus, sigmas, a, b, outcome)
    elif model == "bradley-terry-full" or (
        model == "bradley-terry-part" and kwargs["window_size"] >= 1
    ):
        _twin_bradley_terry(kwargs, mus, sigmas, a, b, outcome)
    elif model == "thurstone-mosteller-full" or (
        model == "thurstone-mosteller-part" and kwargs["window_size"] >= 1
    ):
        _twin_thurstone_mosteller(
            kwargs, mus, sigmas, a, b, outcome, part=model == "thurstone-mosteller-part"
        )
    else:
        _rate_battles_package(OPENSKILL_MODELS[model](**kwargs), mus, sigmas, a, b, outcome)


def openskill_rate(
    battles: Any,
    *,
    model: str = "plackett-luce",
    mu: float = 25.0,
    sigma: float = 25.0 / 3.0,
    beta: float = 25.0 / 6.0,
    kappa: float = 0.0001,
    tau: float = 25.0 / 300.0,
    epsilon: float = 0.1,
    window_size: int = 4,
    limit_sigma: bool = False,
    confidence: float = 0.95,
    initial: Mapping[str, tuple[float, float]] | None = None,
) -> RatingResult:
    """OpenSkill ratings from pairwise battles (online, in time order; ties are draws).

    Parameters
    ----------
    battles : ranking.battles.Battles
        The battles. With ``tstamp`` they are processed in time order (stable), otherwise
        in the given order. Integer ``weight`` repeats a battle that many times
        (aggregated pair counts have no order, so their repeated battles are processed
        entry by entry; an online method is a poor fit for such data).
    model : str, default "plackett-luce"
        ``plackett-luce``, ``bradley-terry-full``, ``bradley-terry-part``,
        ``thurstone-mosteller-full`` or ``thurstone-mosteller-part``.
    mu, sigma : float
        Prior mean and standard deviation of every model not in ``initial``
        (openskill defaults 25 and 25/3).
    beta, kappa, tau : float
        openskill's performance noise (25/6), σ floor factor (1e-4) and additive dynamics
        (25/300, added to σ² before every update).
    epsilon : float, default 0.1
        Draw margin of the Thurstone-Mosteller models.
    window_size : int, default 4
        Window of the ``-part`` models (any value ≥ 1 is the same for two players).
    limit_sigma : bool, default False
        Never let an update increase σ.
    confidence : float, default 0.95
        ``lower``/``upper`` are ``μ ∓ z·σ`` with ``z = Φ⁻¹((1 + confidence)/2)``
        (z = 1.96 at 0.95), the Gaussian belief's central interval.
    initial : mapping, optional
        Starting ``(μ, σ)`` of some models, for example a stored state.

    Returns
    -------
    RatingResult
        ``method="openskill"``, ``rating = μ``; ``extra`` holds ``mu``, ``sigma`` and the
        conservative score ``ordinal = μ − 3σ``.

    References
    ----------
    Weng and Lin, "A Bayesian Approximation Method for Online Ranking", JMLR 12 (2011).
    """
    model, kwargs = _engine_kwargs(
        model, mu, sigma, beta, kappa, tau, epsilon, window_size, limit_sigma
    )
    mu, sigma = kwargs["mu"], kwargs["sigma"]
    conf = check_probability("confidence", confidence)
    models = [str(x) for x in battles.models]
    n = len(models)
    # the battles' own dtypes (int32, int8): no copy of 10M battles before the replay's order
    a = np.asarray(battles.a)
    b = np.asarray(battles.b)
    outcome = np.asarray(battles.outcome)
    if a.size and (a.min() < 0 or b.min() < 0 or max(a.max(), b.max()) >= n):
        raise InputError("battle model indices must index battles.models")
    if np.any(a == b):
        raise InputError(f"battle {int(np.argmax(a == b))}: a model cannot battle itself")
    if not np.all(np.isin(outcome, (0, 1, 2, 3))):
        raise InputError("outcome codes must be 0 (model_a), 1 (model_b), 2 or 3 (ties)")
    order = (
        np.arange(a.size)
        if battles.tstamp is None
        else np.argsort(np.asarray(battles.tstamp), kind="stable")
    )
    if battles.weight is not None:
        wt = np.asarray(battles.weight, dtype=np.float64)
        if np.any(wt < 0) or np.any(wt != np.round(wt)):
            raise InputError(
                "openskill is an online method: battle weights must be whole "
                "numbers of repeated battles"
            )
        order = np.repeat(order, wt[order].astype(np.int64))
    a, b, outcome = a[order], b[order], outcome[order]
    mus = [mu] * n
    sigmas = [sigma] * n
    for name, value in (initial or {}).items():
        if name not in models:
            raise InputError(f"initial names {name!r}, which is not among the battle models")
        m0, s0 = value
        mus[models.index(name)] = check_finite(f"initial[{name!r}] mu", m0)
        sigmas[models.index(name)] = check_positive(f"initial[{name!r}] sigma", s0)
    for lo in range(0, a.size, _BLOCK):  # Python lists a block at a time: bounded memory
        step = slice(lo, lo + _BLOCK)
        _rate_battles(
            model, kwargs, mus, sigmas, a[step].tolist(), b[step].tolist(), outcome[step].tolist()
        )
    mu_arr = np.asarray(mus, dtype=np.float64)
    sigma_arr = np.asarray(sigmas, dtype=np.float64)
    z = NormalDist().inv_cdf(0.5 + conf / 2.0)
    counts = (np.bincount(a, minlength=n) + np.bincount(b, minlength=n)).astype(np.int64)
    params: dict[str, Any] = dict(kwargs, model=model, confidence=conf, z=z, ordinal_z=ORDINAL_Z)
    return RatingResult(
        method="openskill",
        params=params,
        models=models,
        rating=mu_arr,
        lower=mu_arr - z * sigma_arr,
        upper=mu_arr + z * sigma_arr,
        battles=counts,
        component=components(battles),
        n_battles=int(a.size),
        extra={"mu": mu_arr, "sigma": sigma_arr, "ordinal": mu_arr - ORDINAL_Z * sigma_arr},
    )


def _ranking_groups(ranking: Sequence[str | Sequence[str]]) -> list[tuple[str, int]]:
    if isinstance(ranking, str) or not isinstance(ranking, Sequence):
        raise InputError(
            "ranking must be a list of names (best first); a nested list groups names that tied"
        )
    out: list[tuple[str, int]] = []
    seen: set[str] = set()
    for place, entry in enumerate(ranking):
        group = [entry] if isinstance(entry, str) else entry
        if isinstance(group, str) or not isinstance(group, Sequence) or len(group) == 0:
            raise InputError(f"ranking[{place}] must be a name or a non-empty list of names")
        for name in group:
            if not isinstance(name, str):
                raise InputError(f"ranking[{place}] holds {name!r}; expected a model name")
            if name in seen:
                raise InputError(f"{name!r} appears twice in the ranking")
            seen.add(name)
            out.append((name, place))
    if len(out) < 2:
        raise InputError("a ranking needs at least two names")
    return out


def openskill_rank_update(
    state: Mapping[str, tuple[float, float]],
    ranking: Sequence[str | Sequence[str]],
    *,
    model: str = "plackett-luce",
    mu: float = 25.0,
    sigma: float = 25.0 / 3.0,
    beta: float = 25.0 / 6.0,
    kappa: float = 0.0001,
    tau: float = 25.0 / 300.0,
    epsilon: float = 0.1,
    window_size: int = 4,
    limit_sigma: bool = False,
) -> dict[str, tuple[float, float]]:
    """Update OpenSkill beliefs with one K-wise free-for-all vote.

    Parameters
    ----------
    state : mapping of str to (float, float)
        Current ``(μ, σ)`` of each model; models missing from it start at ``(mu, sigma)``.
        Not modified.
    ranking : sequence
        The vote, best first. An entry is a model name, or a list of names that tied
        (``["a", ["b", "c"], "d"]``: ``a`` first, ``b`` and ``c`` tied second, ``d`` last).
    model, mu, sigma, beta, kappa, tau, epsilon, window_size, limit_sigma
        As in :func:`openskill_rate`.

    Returns
    -------
    dict of str to (float, float)
        A new state: every entry of ``state`` plus the updated models of the vote.
    """
    model, kwargs = _engine_kwargs(
        model, mu, sigma, beta, kappa, tau, epsilon, window_size, limit_sigma
    )
    mu, sigma = kwargs["mu"], kwargs["sigma"]
    entries = _ranking_groups(ranking)
    engine = OPENSKILL_MODELS[model](**kwargs)
    teams = []
    for name, _ in entries:
        m0, s0 = state.get(name, (mu, sigma))
        teams.append(
            [
                engine.rating(
                    mu=check_finite(f"state[{name!r}] mu", m0),
                    sigma=check_positive(f"state[{name!r}] sigma", s0),
                )
            ]
        )
    result = engine.rate(teams, ranks=[float(place) for _, place in entries])
    new_state = {str(k): (float(v[0]), float(v[1])) for k, v in state.items()}
    for (name, _), [rating] in zip(entries, result):
        new_state[name] = (float(rating.mu), float(rating.sigma))
    return new_state


__all__ = ["OPENSKILL_MODELS", "ORDINAL_Z", "openskill_rank_update", "openskill_rate"]
