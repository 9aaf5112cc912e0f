"""Online Elo, equal to FastChat's ``compute_online_elo``, with bootstrap intervals.

Battles are processed one at a time in chronological order (by ``tstamp`` when every
battle has one, otherwise in file order). After each battle both ratings move by
``k · (S - E)`` where S is 1, 0 or ½ for a tie and E = 1 / (1 + base^((R_b - R_a)/scale)).

The bootstrap interval follows FastChat's ``get_bootstrap_result``: each round draws as many
battles as there are, uniformly with replacement, and runs the same online update over them
in the order drawn (``DataFrame.sample(frac=1.0, replace=True)``), so it reflects both which
battles were seen and the order they came in. All rounds run side by side in numpy.

References
----------
.. [1] A. E. Elo, "The Rating of Chessplayers, Past and Present" (1978).
.. [2] FastChat ``fastchat/serve/monitor/elo_analysis.py`` (``compute_elo``,
   ``get_bootstrap_result``) and ``rating_systems.py`` (``compute_elo``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from ranking._bootstrap import percentile_interval
from ranking._logistic import win_probability
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
from ranking.battles import Battles, components
from ranking.errors import InputError
from ranking.types import RatingResult

#: Score of the first side for each outcome code (a win, a loss, two kinds of tie).
_SCORE_A = np.array([1.0, 0.0, 0.5, 0.5])

CI_METHODS: tuple[str, ...] = ("none", "bootstrap")
#: Battles per block: of the replay's Python lists, and drawn per block in the bootstrap
#: (bounds memory at ``rounds × _BLOCK`` indices).
_BLOCK = 4096


def _bootstrap_ratings(
    a: NDArray[np.int32],
    b: NDArray[np.int32],
    score: NDArray[np.float64],
    n_models: int,
    *,
    rounds: int,
    k: float,
    scale: float,
    base: float,
    init: float,
    rng: np.random.Generator,
) -> NDArray[np.float64]:
    """Online Elo on ``rounds`` resamples (uniform with replacement, in draw order).

    Returns the ratings, shape ``(rounds, n_models)``. Round ``r``'s ratings live at
    ``flat[r * n_models:(r + 1) * n_models]``, so one step updates every round at once.
    """
    n = len(a)
    flat = np.full(rounds * n_models, init)
    offset = np.arange(rounds, dtype=np.int64) * n_models
    for lo in range(0, n, _BLOCK):
        hi = min(n, lo + _BLOCK)
        pick = rng.integers(0, n, size=(hi - lo, rounds))
        fa = a[pick] + offset
        fb = b[pick] + offset
        sa = score[pick]
        for t in range(hi - lo):
            ia, ib = fa[t], fb[t]
            ra, rb = flat[ia], flat[ib]
            update = k * (sa[t] - win_probability(ra - rb, scale=scale, base=base))
            flat[ia] = ra + update
            flat[ib] = rb - update
    return flat.reshape(rounds, n_models)


def elo(
    battles: Battles,
    *,
    k: float = 4.0,
    scale: float = 400.0,
    base: float = 10.0,
    init: float = 1000.0,
    anchor: tuple[str, float] | None = None,
    ci: Literal["none", "bootstrap"] = "none",
    rounds: int = 100,
    confidence: float = 0.95,
    rng: int | np.random.Generator | None = None,
    initial: Mapping[str, float] | None = None,
) -> RatingResult:
    """Online Elo ratings, optionally with bootstrap intervals.

    Parameters
    ----------
    battles : Battles
        Individual battles (not pair counts: online Elo needs their order).
    k : float
        Update size (FastChat uses 4).
    scale, base, init : float
        Logistic scale and base, and every model's starting rating.
    anchor : (str, float) or None
        Shift all final ratings so this model has this value (in every bootstrap round
        too, so intervals are intervals of the difference to the anchor and the anchor's
        own interval is a point).
    ci : {"none", "bootstrap"}
        ``"bootstrap"``: percentile intervals over ``rounds`` resamples, as FastChat's
        ``get_bootstrap_result`` (battles drawn with replacement and replayed in the
        order drawn). A model missing from a resample keeps ``init`` in that round. The
        rating stays the online Elo of the battles in chronological order, which is not
        the bootstrap median; when it falls outside the percentile interval the interval
        is widened to reach it, so ``lower <= rating <= upper`` always.
    rounds : int
        Bootstrap resamples.
    confidence : float
        Interval coverage (0.95: the 2.5 % and 97.5 % percentiles, taken at the Weibull
        plotting position ``q·(rounds + 1)``, which does not narrow the interval when
        rounds are few).
    rng : int, Generator or None
        Randomness of the bootstrap.
    initial : mapping, optional
        Starting ratings of some models (others start at ``init``), for example a stored
        state continued with newer battles: Elo on battles ``B1`` then, with ``initial`` set
        to that result, on ``B2`` gives exactly the Elo of ``B1 + B2``. Only with
        ``ci="none"`` (a bootstrap resamples the whole history).

    Returns
    -------
    RatingResult
        ``method="elo"``; ``lower``/``upper`` are ``None`` unless ``ci="bootstrap"``.

    References
    ----------
    .. [1] FastChat ``fastchat/serve/monitor/elo_analysis.py``, ``get_bootstrap_result``.
    """
    k = check_positive("k", k)
    scale = check_positive("scale", scale)
    base = check_base(base)
    init = check_finite("init", init)
    anchor = check_anchor(anchor, battles.models)
    ci = check_choice("ci", ci, CI_METHODS)  # type: ignore[assignment]
    rounds = check_positive_int("rounds", rounds)
    confidence = check_probability("confidence", confidence)
    generator = as_rng(rng) if ci == "bootstrap" else None
    if battles.is_aggregated:
        raise InputError(
            "online Elo needs individual battles in order; got aggregated "
            "counts (a pair-counts file): use --method bt"
        )
    order = battles.chronological()
    ratings = [init] * battles.n_models
    if initial:
        if ci != "none":
            raise InputError("initial ratings continue a state; use them with ci='none'")
        for name, value in initial.items():
            if name not in battles.models:
                raise InputError(f"initial names {name!r}, which is not among the battle models")
            ratings[battles.models.index(name)] = check_finite(f"initial[{name!r}]", value)
    for lo in range(0, len(order), _BLOCK):  # Python lists a block at a time: bounded memory
        step = order[lo : lo + _BLOCK]
        for ia, ib, sa in zip(
            battles.a[step].tolist(),
            battles.b[step].tolist(),
            _SCORE_A[battles.outcome[step]].tolist(),
            strict=True,
        ):
            ra = ratings[ia]
            rb = ratings[ib]
            update = k * (sa - win_probability(ra - rb, scale=scale, base=base))
            ratings[ia] = ra + update
            ratings[ib] = rb - update
    rating = np.array(ratings, dtype=np.float64)
    if anchor is not None:
        rating += anchor[1] - rating[battles.models.index(anchor[0])]
    lower = upper = None
    if generator is not None:
        samples = _bootstrap_ratings(
            battles.a,
            battles.b,
            _SCORE_A[battles.outcome],
            battles.n_models,
            rounds=rounds,
            k=k,
            scale=scale,
            base=base,
            init=init,
            rng=generator,
        )
        if anchor is not None:
            samples += anchor[1] - samples[:, [battles.models.index(anchor[0])]]
        lower, upper = percentile_interval(samples, rating, confidence=confidence)
    seed = seed_param(rng)
    params: dict[str, Any] = {
        "k": k,
        "scale": scale,
        "base": base,
        "init": init,
        "anchor": None if anchor is None else {"model": anchor[0], "value": anchor[1]},
        "order": "tstamp" if battles.tstamp is not None else "file",
        "ci": ci,
        "confidence": confidence if ci != "none" else None,
        "rounds": rounds if ci == "bootstrap" else None,
        "seed": seed if ci == "bootstrap" else None,
    }
    return RatingResult(
        method="elo",
        params=params,
        models=list(battles.models),
        rating=rating,
        lower=lower,
        upper=upper,
        battles=battles.battles_per_model(),
        component=components(battles),
        n_battles=battles.n_battles,
    )
