"""Latency, tokens and cost of one model's answers, each figure with a 95 % interval.

Latency is summarised by its median (p50) and 95th percentile (p95). The point estimate is the
sample quantile with linear interpolation (Hyndman and Fan's type 7, numpy's default). The
interval is the distribution-free order-statistic interval [1]_: the number of answers below the
true quantile is Binomial(n, q), so ``[x_(l), x_(u)]`` covers it with probability
``F(u - 1) - F(l - 1)`` for continuous data, whatever the distribution (at least that much for
data with ties, such as whole milliseconds). ``l`` is the largest rank with ``F(l - 1) <= a/2``
and ``u`` the smallest with ``1 - F(u - 1) <= a/2``, so the exact coverage, which is reported,
is at least the nominal level. When the sample is too small for such a rank (p95 needs 72
answers for an upper bound at 95 %), that bound is ``None``: unbounded.

Tokens per answer (prompt plus completion) and cost per answer are summarised by their means
with Student's t interval, ``mean ± t(1 - a/2, n - 1) · s / sqrt(n)``, whose lower end is cut
at zero since neither can be negative. It relies on the central limit theorem, so with few,
skewed answers its coverage can fall below the nominal level.

References
----------
.. [1] H. A. David and H. N. Nagaraja, *Order Statistics*, 3rd ed., Wiley (2003),
   section 7.1 (distribution-free confidence intervals for quantiles).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.stats import binom
from scipy.stats import t as student_t

from ranking.errors import InputError

CONFIDENCE = 0.95
METHOD_QUANTILE = (
    "sample quantile (linear interpolation); distribution-free order-statistic interval "
    "from the binomial"
)
METHOD_MEAN = "mean; Student's t interval (lower end cut at 0)"


@dataclass(frozen=True)
class Estimate:
    """A point estimate with its interval; a bound is ``None`` when the data cannot give one.

    ``coverage`` is the exact coverage of a quantile interval (``None`` for a mean's t interval,
    whose coverage is approximate).
    """

    value: float | None
    lower: float | None
    upper: float | None
    coverage: float | None = None


@dataclass(frozen=True)
class UsageSummary:
    """One model's answers: count, latency quantiles, mean tokens and mean cost per answer.

    ``cost_n`` is the number of answers the cost is over (those with a known price).
    """

    n: int
    latency_p50: Estimate
    latency_p95: Estimate
    tokens_mean: Estimate
    cost_mean: Estimate
    confidence: float
    cost_n: int = 0


def _values(x: ArrayLike, name: str) -> NDArray[np.float64]:
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim != 1:
        raise InputError(f"{name} must be one-dimensional; got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise InputError(f"{name} must be finite")
    if np.any(arr < 0):
        raise InputError(f"{name} must be non-negative")
    return arr


def _check_confidence(confidence: float) -> None:
    if not 0.0 < confidence < 1.0:
        raise InputError(f"confidence must be in (0, 1); got {confidence}")


def quantile_interval(x: ArrayLike, q: float, *, confidence: float = CONFIDENCE) -> Estimate:
    """Return the sample ``q``-quantile with its distribution-free order-statistic interval.

    Parameters
    ----------
    x : array_like
        The observations (one-dimensional, finite).
    q : float
        The quantile, in (0, 1).
    confidence : float
        The nominal coverage of the interval.

    Returns
    -------
    Estimate
        ``value`` is ``None`` for an empty sample; ``lower``/``upper`` are order statistics of
        ``x`` or ``None`` when no rank reaches the level; ``coverage`` is the exact binomial
        coverage of ``[lower, upper]`` for continuous data.
    """
    _check_confidence(confidence)
    if not 0.0 < q < 1.0:
        raise InputError(f"q must be in (0, 1); got {q}")
    arr = np.sort(np.asarray(x, dtype=np.float64))
    if arr.ndim != 1 or not np.all(np.isfinite(arr)):
        raise InputError("x must be one-dimensional and finite")
    n = arr.size
    if n == 0:
        return Estimate(None, None, None, None)
    half = (1.0 - confidence) / 2.0
    ks = np.arange(n + 1)
    cdf = binom.cdf(ks, n, q)
    sf = binom.sf(ks, n, q)  # P(B > k): B answers fall below the true quantile
    low_ks = ks[cdf <= half]
    up_ks = ks[(sf <= half) & (ks < n)]
    lower = upper = None
    cov_low = 0.0  # F(l - 1), or 0 for an unbounded lower end
    cov_up = 1.0  # F(u - 1), or 1 for an unbounded upper end
    if low_ks.size:
        k = int(low_ks.max())  # l - 1
        lower = float(arr[k])  # x_(l), 1-indexed rank l = k + 1
        cov_low = float(cdf[k])
    if up_ks.size:
        k = int(up_ks.min())  # u - 1
        upper = float(arr[k])  # x_(u), 1-indexed rank u = k + 1
        cov_up = float(cdf[k])
    value = float(np.quantile(arr, q))
    return Estimate(value, lower, upper, cov_up - cov_low)


def mean_interval(x: ArrayLike, *, confidence: float = CONFIDENCE) -> Estimate:
    """Return the mean of non-negative ``x`` with Student's t interval (lower end cut at 0).

    Parameters
    ----------
    x : array_like
        The observations (one-dimensional, finite, non-negative).
    confidence : float
        The nominal coverage of the interval.

    Returns
    -------
    Estimate
        ``value`` is ``None`` for an empty sample; the bounds are ``None`` below two
        observations.
    """
    _check_confidence(confidence)
    arr = _values(x, "x")
    n = arr.size
    if n == 0:
        return Estimate(None, None, None)
    return t_interval(
        n=n,
        mean=float(arr.mean()),
        sd=float(arr.std(ddof=1)) if n > 1 else None,
        confidence=confidence,
    )


def t_interval(
    *, n: int, mean: float | None, sd: float | None, confidence: float = CONFIDENCE
) -> Estimate:
    """Return Student's t interval for a non-negative mean from its summary statistics.

    Parameters
    ----------
    n : int
        The number of observations.
    mean : float or None
        Their mean (``None`` without observations).
    sd : float or None
        Their sample standard deviation (``ddof=1``; ``None`` below two observations).
    confidence : float
        The nominal coverage of the interval.

    Returns
    -------
    Estimate
        ``mean ± t(1 - a/2, n - 1) · sd / sqrt(n)`` with the lower end cut at zero; the bounds
        are ``None`` below two observations.
    """
    _check_confidence(confidence)
    if n < 0 or (n > 0 and mean is None):
        raise InputError(f"n must be non-negative and a mean given when n > 0; got n={n}")
    if n == 0 or mean is None:
        return Estimate(None, None, None)
    if n < 2 or sd is None:
        return Estimate(float(mean), None, None)
    if not sd >= 0.0:
        raise InputError(f"sd must be non-negative; got {sd}")
    half = float(student_t.ppf(0.5 + confidence / 2.0, n - 1)) * sd / math.sqrt(n)
    return Estimate(float(mean), max(0.0, mean - half), mean + half)


def answer_usage(
    *,
    latency_ms: Sequence[float] | ArrayLike,
    tokens: Sequence[float] | ArrayLike,
    cost: Sequence[float] | ArrayLike,
    confidence: float = CONFIDENCE,
) -> UsageSummary:
    """Summarise one model's answers (one entry per answer in each array).

    Parameters
    ----------
    latency_ms : array_like
        Time to answer, in milliseconds.
    tokens : array_like
        Tokens per answer (prompt plus completion).
    cost : array_like
        Cost per answer, in the price's currency, for the answers whose price is known (at
        most one entry per answer; answers without a price are left out, not counted as 0).
    confidence : float
        The nominal coverage of every interval.

    Returns
    -------
    UsageSummary
        p50 and p95 latency with order-statistic intervals, mean tokens and mean cost with t
        intervals (see the module docstring for the methods).
    """
    lat = _values(latency_ms, "latency_ms")
    tok = _values(tokens, "tokens")
    cst = _values(cost, "cost")
    if not (lat.size == tok.size >= cst.size):
        raise InputError(
            "latency_ms and tokens must have one entry per answer, cost at most one; "
            f"got {lat.size}, {tok.size} and {cst.size}"
        )
    return UsageSummary(
        n=int(lat.size),
        latency_p50=quantile_interval(lat, 0.5, confidence=confidence),
        latency_p95=quantile_interval(lat, 0.95, confidence=confidence),
        tokens_mean=mean_interval(tok, confidence=confidence),
        cost_mean=mean_interval(cst, confidence=confidence),
        confidence=confidence,
        cost_n=int(cst.size),
    )
