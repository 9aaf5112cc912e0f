"""Sample size for telling two models apart under the Bradley-Terry model.

Two models ``delta`` points apart on the rating scale (``scale`` 400, ``base`` 10, as the
``bt`` boards) have P(A beats B) = ``p = 1 / (1 + base^(-delta / scale))``; in natural
log-odds their difference is ``d = delta · ln(base) / scale``. With ``n`` battles between them
the maximum-likelihood estimate of ``d`` is asymptotically normal with variance
``v / n``, and the pair counts as *separated* when the two-sided Wald interval of the
difference at level ``confidence`` excludes 0 (the rule the arena's matchmaking uses for a
settled pair). The number of battles that gives this with probability ``power`` is the
normal-approximation sample size

    n = (z_{1 - alpha/2} + z_{power})^2 · v / d^2,     alpha = 1 - confidence,

(the second, opposite rejection region is ignored, as usual; it adds less than alpha/2).

How ties count (state it with every number):

- ``ties="exclude"``: ties carry no information; decisive battles follow Bradley-Terry
  with ``p`` and ``v = 1 / (p (1 - p))`` per *decisive* battle; a tie rate ``t`` then asks
  for ``n / (1 - t)`` battles in all.
- ``ties="half"``: a tie is half a win for each side (as the ``bt`` boards count it), so
  ``p`` is the expected score; with a share ``t`` of ties the score's variance per battle
  is ``p (1 - p) - t / 4`` and the quasi-likelihood (sandwich) variance of ``d`` is
  ``v = (p (1 - p) - t / 4) / (p (1 - p))^2`` per battle. Ties make a battle *more*
  informative here (the score varies less), so the plan needs fewer battles than with
  ties excluded.

References
----------
.. [1] Chow, S.-C., Shao, J. and Wang, H. (2008). Sample Size Calculations in Clinical
   Research, 2nd ed., section 4.1 (one-sample test of a proportion; Wald form).
.. [2] Bradley, R. A. and Terry, M. E. (1952). Rank analysis of incomplete block designs.
   Biometrika 39, 324-345.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from scipy.stats import norm

from ranking._validation import check_base, check_finite, check_positive, check_probability
from ranking.errors import InputError

__all__ = ["PowerPlan", "battles_power", "battles_to_separate"]

TIES = ("half", "exclude")


@dataclass(frozen=True)
class PowerPlan:
    """How many battles separate two models ``delta`` points apart.

    Attributes
    ----------
    delta : float
        Rating difference (points on ``scale``).
    p : float
        P(the stronger model beats the weaker), or its expected score with ``ties="half"``.
    log_odds : float
        ``d``, the difference in natural log-odds.
    confidence, power, tie_rate : float
    ties : str
        ``"half"`` or ``"exclude"``.
    variance_per_battle : float
        ``v``: the variance of the estimate of ``d`` times the number of battles counted
        (decisive battles with ``ties="exclude"``, all battles with ``ties="half"``).
    n_exact : float
        The sample size formula before rounding up.
    battles : int
        Battles to play in all (ties included), rounded up.
    decisive : int or None
        Decisive battles needed (``ties="exclude"`` only).
    achieved_power : float
        Power at ``battles`` by the same normal approximation, both tails counted.
    """

    delta: float
    p: float
    log_odds: float
    confidence: float
    power: float
    ties: str
    tie_rate: float
    variance_per_battle: float
    n_exact: float
    battles: int
    decisive: int | None
    achieved_power: float


def _variance(p: float, tie_rate: float, ties: str) -> float:
    q = p * (1.0 - p)
    if ties == "exclude":
        return 1.0 / q
    return (q - tie_rate / 4.0) / (q * q)


def _validate(
    delta: float, confidence: float, tie_rate: float, ties: str, scale: float, base: float
) -> tuple[float, float, float, float]:
    delta = check_finite("delta", delta)
    if delta == 0:
        raise InputError("delta must be non-zero: two equal models cannot be separated")
    confidence = check_probability("confidence", confidence)
    tie_rate = check_finite("tie_rate", tie_rate)
    if not 0.0 <= tie_rate < 1.0:
        raise InputError(f"tie_rate must be in [0, 1); got {tie_rate!r}")
    if ties not in TIES:
        raise InputError(f"ties must be one of {', '.join(TIES)}; got {ties!r}")
    scale = check_positive("scale", scale)
    base = check_base(base)
    d = abs(delta) * math.log(base) / scale
    p = 1.0 / (1.0 + math.exp(-d))
    if ties == "half" and tie_rate / 2.0 > 1.0 - p:
        raise InputError(
            f"tie_rate {tie_rate:g} is impossible with ties counted as half at delta {delta:g}: "
            f"the expected score {p:.4f} needs tie_rate <= {2.0 * (1.0 - p):.4f}"
        )
    return delta, confidence, tie_rate, d


def battles_power(
    battles: int,
    delta: float,
    *,
    confidence: float = 0.95,
    ties: Literal["half", "exclude"] = "half",
    tie_rate: float = 0.0,
    scale: float = 400.0,
    base: float = 10.0,
) -> float:
    """Probability that ``battles`` battles separate two models ``delta`` points apart.

    Normal approximation of the two-sided Wald test (both tails); see the module notes.
    With ``ties="exclude"`` the expected number of decisive battles, ``battles · (1 - t)``,
    is used.
    """
    if isinstance(battles, bool) or not isinstance(battles, int) or battles < 1:
        raise InputError(f"battles must be a positive integer; got {battles!r}")
    delta, confidence, tie_rate, d = _validate(delta, confidence, tie_rate, ties, scale, base)
    p = 1.0 / (1.0 + math.exp(-d))
    counted = battles * (1.0 - tie_rate) if ties == "exclude" else float(battles)
    shift = d * math.sqrt(counted / _variance(p, tie_rate, ties))
    z = float(norm.ppf(1.0 - (1.0 - confidence) / 2.0))
    return float(norm.sf(z - shift) + norm.cdf(-z - shift))


def battles_to_separate(
    delta: float,
    *,
    confidence: float = 0.95,
    power: float = 0.8,
    ties: Literal["half", "exclude"] = "half",
    tie_rate: float = 0.0,
    scale: float = 400.0,
    base: float = 10.0,
) -> PowerPlan:
    """Battles that separate two models ``delta`` points apart.

    With probability ``power``, the ``confidence`` interval of their difference then excludes 0.

    Parameters
    ----------
    delta : float
        Rating difference on the board's scale (its sign does not matter).
    confidence : float, default 0.95
        Level of the two-sided interval (alpha = 1 - confidence).
    power : float, default 0.8
        Wanted probability of separating them.
    ties : {"half", "exclude"}, default "half"
        How ties count (see the module notes).
    tie_rate : float, default 0
        Share of battles expected to end in a tie.
    scale, base : float
        The rating scale: P(i beats j) = 1 / (1 + base^(-(r_i - r_j) / scale)).

    Returns
    -------
    PowerPlan
    """
    delta, confidence, tie_rate, d = _validate(delta, confidence, tie_rate, ties, scale, base)
    power = check_probability("power", power)
    p = 1.0 / (1.0 + math.exp(-d))
    v = _variance(p, tie_rate, ties)
    z_a = float(norm.ppf(1.0 - (1.0 - confidence) / 2.0))
    z_b = float(norm.ppf(power))
    n_exact = (z_a + z_b) ** 2 * v / (d * d)
    if ties == "exclude":
        needed = max(1, math.ceil(n_exact - 1e-9))
        decisive: int | None = needed
        total = max(1, math.ceil(needed / (1.0 - tie_rate) - 1e-9))
    else:
        decisive = None
        total = max(1, math.ceil(n_exact - 1e-9))
    return PowerPlan(
        delta=abs(delta),
        p=p,
        log_odds=d,
        confidence=confidence,
        power=power,
        ties=ties,
        tie_rate=tie_rate,
        variance_per_battle=v,
        n_exact=n_exact,
        battles=total,
        decisive=decisive,
        achieved_power=battles_power(
            total,
            delta,
            confidence=confidence,
            ties=ties,
            tie_rate=tie_rate,
            scale=scale,
            base=base,
        ),
    )
