"""Online Elo, equal to FastChat's ``compute_online_elo``.

Battles are processed one at a time in chronological order (by ``tstamp`` when every
battle has one, otherwise in file order). After each battle both ratings move by
``k · (S - E)`` where S is 1, 0 or ½ for a tie and E = 1 / (1 + base^((R_b - R_a)/scale)).

References
----------
.. [1] A. E. Elo, "The Rating of Chessplayers, Past and Present" (1978).
.. [2] FastChat ``fastchat/serve/monitor/elo_analysis.py`` (``compute_elo``) and
   ``rating_systems.py`` (``compute_elo``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ranking._validation import check_anchor, check_base, check_finite, check_positive
from ranking.battles import Battles, components
from ranking.errors import InputError
from ranking.types import RatingResult

#: Score of the first side for each outcome code (a win, a loss, two kinds of tie).
_SCORE_A = np.array([1.0, 0.0, 0.5, 0.5])


def elo(battles: Battles, *, k: float = 4.0, scale: float = 400.0, base: float = 10.0,
        init: float = 1000.0, anchor: tuple[str, float] | None = None) -> RatingResult:
    """Online Elo ratings.

    Parameters
    ----------
    battles : Battles
        Individual battles (not pair counts: online Elo needs their order).
    k : float
        Update size (FastChat uses 4).
    scale, base, init : float
        Logistic scale and base, and every model's starting rating.
    anchor : (str, float) or None
        Shift all final ratings so this model has this value.

    Returns
    -------
    RatingResult
        ``method="elo"``, without intervals.
    """
    k = check_positive("k", k)
    scale = check_positive("scale", scale)
    base = check_base(base)
    init = check_finite("init", init)
    anchor = check_anchor(anchor, battles.models)
    if battles.is_aggregated:
        raise InputError("online Elo needs individual battles in order; got aggregated "
                         "counts (a pair-counts file): use --method bt")
    order = battles.chronological()
    a = battles.a[order].tolist()
    b = battles.b[order].tolist()
    score = _SCORE_A[battles.outcome[order]].tolist()
    alpha = math.log(base) / scale
    ratings = [init] * battles.n_models
    exp = math.exp
    for ia, ib, sa in zip(a, b, score):
        ra = ratings[ia]
        rb = ratings[ib]
        update = k * (sa - 1.0 / (1.0 + exp(alpha * (rb - ra))))
        ratings[ia] = ra + update
        ratings[ib] = rb - update
    rating = np.array(ratings, dtype=np.float64)
    if anchor is not None:
        rating += anchor[1] - rating[battles.models.index(anchor[0])]
    params: dict[str, Any] = {
        "k": k, "scale": scale, "base": base, "init": init,
        "anchor": None if anchor is None else {"model": anchor[0], "value": anchor[1]},
        "order": "tstamp" if battles.tstamp is not None else "file",
    }
    return RatingResult(method="elo", params=params, models=list(battles.models),
                        rating=rating, lower=None, upper=None,
                        battles=battles.battles_per_model(), component=components(battles),
                        n_battles=battles.n_battles)
