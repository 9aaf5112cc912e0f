"""The rating-to-probability curve every rating method in :mod:`ranking` shares.

``P(a beats b) = 1 / (1 + base**(-(r_a - r_b) / scale))``: the Elo and Bradley-Terry
logistic curve, with ``scale = 400`` and ``base = 10`` by default (a 400-point gap is 10:1
odds).
"""

from __future__ import annotations

import math
from typing import overload

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import expit


def logistic_slope(*, scale: float = 400.0, base: float = 10.0) -> float:
    """Log-odds per rating point, ``ln(base) / scale``.

    Parameters
    ----------
    scale : float
        Rating points per factor ``base`` of the odds.
    base : float
        Odds factor per ``scale`` points.

    Returns
    -------
    float
        The slope ``alpha`` with ``P = 1 / (1 + exp(-alpha * (r_a - r_b)))``.
    """
    return math.log(base) / scale


@overload
def win_probability(diff: float, *, scale: float = ..., base: float = ...) -> float: ...


@overload
def win_probability(
    diff: NDArray[np.float64], *, scale: float = ..., base: float = ...
) -> NDArray[np.float64]: ...


def win_probability(
    diff: ArrayLike, *, scale: float = 400.0, base: float = 10.0
) -> float | NDArray[np.float64]:
    """Probability that a player rated ``diff`` points above the other wins.

    Parameters
    ----------
    diff : float or array_like
        Rating differences ``r_a - r_b``.
    scale, base : float
        The curve ``1 / (1 + base**(-diff / scale))``.

    Returns
    -------
    float or ndarray
        A Python float for a Python float (the fast path of online Elo), else an array of
        the shape of ``diff``.
    """
    alpha = math.log(base) / scale
    if isinstance(diff, float | int):
        x = alpha * diff
        if x >= 0.0:
            return 1.0 / (1.0 + math.exp(-x))
        e = math.exp(x)
        return e / (1.0 + e)
    return np.asarray(expit(alpha * np.asarray(diff, dtype=np.float64)), dtype=np.float64)
