"""OpenSkill (Weng-Lin Bayesian) ratings of models from battles, wrapping the openskill package.

Each model carries a Gaussian belief ``N(μ, σ²)`` about its skill; every battle updates
the two beliefs in turn (an online method, so the order of battles matters: battles are
processed by ``tstamp`` when the battles have one, otherwise in their given order). A tie
of either kind is a draw (equal ranks). The five Weng-Lin models of the openskill package
are available; Plackett-Luce is the default.

Every battle is one call of the package's public ``model.rate``: a decisive battle passes
the two teams winner first without ``ranks`` (the package's own ordering, which skips its
rank sorting and is about 1.5 times faster than ``ranks=[0, 1]`` with equal results), a
tie passes ``ranks=[0, 0]``.

K-wise free-for-all votes (one vote orders K answers at once) go through
:func:`openskill_rank_update`, which calls the package directly.

References
----------
.. [1] R. C. Weng, C.-J. Lin. "A Bayesian Approximation Method for Online Ranking".
   Journal of Machine Learning Research 12, 267-300 (2011).
.. [2] V. Joshy. openskill.py, https://github.com/vivekjoshy/openskill.py (6.x).
"""

from __future__ import annotations

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


def _rate_battles(
    model_obj: Any,
    mus: list[float],
    sigmas: list[float],
    a: list[int],
    b: list[int],
    outcome: list[int],
) -> None:
    """Update ``mus`` and ``sigmas`` in place, one ``model_obj.rate`` call per battle."""
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
    a = np.asarray(battles.a, dtype=np.int64)
    b = np.asarray(battles.b, dtype=np.int64)
    outcome = np.asarray(battles.outcome, dtype=np.int64)
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
    _rate_battles(
        OPENSKILL_MODELS[model](**kwargs), mus, sigmas, a.tolist(), b.tolist(), outcome.tolist()
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
