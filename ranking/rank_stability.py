"""How much two boards agree on the order of their common models.

The report between two boards (ratings with intervals, e.g. a judge run's and the human board):

- Kendall's tau-b between the two ratings of the models both boards rate [1]_, with an
  asymptotic interval: Fisher's z of tau, ``atanh(tau) ± z_(1-a/2) · sqrt(0.437 / (n - 4))``
  (Fieller, Hartley and Pearson [2]_). That interval treats the models as a sample from a
  population of models and covers the population's tau; it does not include the rating
  uncertainty of either board, which the flips below account for. Its coverage is checked in
  simulation (``tests/ranking/test_rank_stability.py``, bivariate normal, where the population
  tau is ``2/pi · arcsin(rho)``). It needs ``n > 4``; at ``|tau| = 1`` it collapses to a point.
- The largest rank moves: ordinal ranks (1 + the number of common models rated strictly
  higher) on each board, and the change.
- The pairs whose order flips (strictly above on one board, strictly below on the other), each
  marked *significant* when both boards separate the pair in their opposite orders: on each
  board the higher model's lower bound is above the other's upper bound (a missing bound is
  unbounded, so never separates).

References
----------
.. [1] M. G. Kendall, "The treatment of ties in ranking problems", Biometrika 33 (1945)
   239-251.
.. [2] E. C. Fieller, H. O. Hartley and E. S. Pearson, "Tests for rank correlation
   coefficients. I", Biometrika 44 (1957) 470-481.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
from numpy.typing import ArrayLike

from ranking.errors import InputError

#: Fieller-Hartley-Pearson's variance constant for Fisher's z of Kendall's tau.
FHP_VARIANCE = 0.437
INTERVAL_METHOD = (
    "asymptotic: Fisher's z of tau ± z·sqrt(0.437 / (n - 4)) (Fieller, Hartley and Pearson, "
    "1957); models are treated as a sample from a population of models, rating uncertainty "
    "is not included"
)

Bound = float | None


@dataclass(frozen=True)
class RankMove:
    """A model's ordinal rank on each board and the change (``rank_b - rank_a``)."""

    model: str
    rank_a: int
    rank_b: int
    move: int


@dataclass(frozen=True)
class PairFlip:
    """Two models in opposite strict orders; ``higher_a`` is above on board A."""

    higher_a: str
    higher_b: str
    separated_a: bool
    separated_b: bool

    @property
    def significant(self) -> bool:
        """Both boards separate the pair, in opposite orders."""
        return self.separated_a and self.separated_b


@dataclass(frozen=True)
class RankStability:
    """The agreement of two boards on their common models."""

    models: tuple[str, ...]
    only_a: tuple[str, ...]
    only_b: tuple[str, ...]
    tau: float | None
    tau_lower: float | None
    tau_upper: float | None
    confidence: float
    interval_method: str
    moves: tuple[RankMove, ...]
    flips: tuple[PairFlip, ...]
    n_pairs: int


def kendall_tau_b(x: ArrayLike, y: ArrayLike) -> float | None:
    """Return Kendall's tau-b of two paired samples (``None`` below two items or with no order).

    ``(C - D) / sqrt((C + D + T_x) (C + D + T_y))`` with ``C``/``D`` the concordant and
    discordant pairs and ``T_x``/``T_y`` the pairs tied only in ``x``/only in ``y``.
    """
    a = np.asarray(x, dtype=np.float64)
    b = np.asarray(y, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1:
        raise InputError("x and y must be one-dimensional and of the same length")
    if a.size < 2:
        return None
    i, j = np.triu_indices(a.size, k=1)
    dx = np.sign(a[i] - a[j])
    dy = np.sign(b[i] - b[j])
    concordant = int(np.sum(dx * dy > 0))
    discordant = int(np.sum(dx * dy < 0))
    tie_x = int(np.sum((dx == 0) & (dy != 0)))
    tie_y = int(np.sum((dy == 0) & (dx != 0)))
    denom = math.sqrt((concordant + discordant + tie_x) * (concordant + discordant + tie_y))
    if denom == 0:
        return None
    return (concordant - discordant) / denom


def kendall_tau_interval(
    tau: float, n: int, *, confidence: float = 0.95
) -> tuple[float | None, float | None]:
    """Return the asymptotic interval of Kendall's tau from ``n`` items (see the module doc).

    ``(None, None)`` for ``n <= 4``.
    """
    if not 0.0 < confidence < 1.0:
        raise InputError(f"confidence must be in (0, 1); got {confidence}")
    if not -1.0 <= tau <= 1.0:
        raise InputError(f"tau must be in [-1, 1]; got {tau}")
    if n <= 4:
        return None, None
    if abs(tau) >= 1.0:
        return tau, tau
    z = math.atanh(tau)
    half = NormalDist().inv_cdf(0.5 + confidence / 2.0) * math.sqrt(FHP_VARIANCE / (n - 4))
    return math.tanh(z - half), math.tanh(z + half)


def _ranks(ratings: np.ndarray) -> np.ndarray:
    return 1 + np.sum(ratings[None, :] > ratings[:, None], axis=1)


def _separated(high: tuple[float, Bound, Bound], low: tuple[float, Bound, Bound]) -> bool:
    high_lower, low_upper = high[1], low[2]
    return high_lower is not None and low_upper is not None and high_lower > low_upper


def rank_stability(
    board_a: Mapping[str, tuple[float, Bound, Bound]],
    board_b: Mapping[str, tuple[float, Bound, Bound]],
    *,
    confidence: float = 0.95,
    top: int = 10,
) -> RankStability:
    """Compare two boards: Kendall's tau with its interval, rank moves and flipped pairs.

    Parameters
    ----------
    board_a, board_b : mapping
        ``model -> (rating, lower, upper)``; a bound may be ``None`` (unbounded).
    confidence : float
        The level of the tau interval (the boards' own intervals decide significance).
    top : int
        How many of the largest rank moves to return (models that did not move are left out).

    Returns
    -------
    RankStability
        Flips are sorted with the significant ones first, then by model names.
    """
    if top < 0:
        raise InputError(f"top must be non-negative; got {top}")
    for name, board in (("board_a", board_a), ("board_b", board_b)):
        for model, (rating, _, _) in board.items():
            if not math.isfinite(rating):
                raise InputError(f"{name}: the rating of {model!r} must be finite")
    models = tuple(sorted(set(board_a) & set(board_b)))
    ra = np.array([board_a[m][0] for m in models], dtype=np.float64)
    rb = np.array([board_b[m][0] for m in models], dtype=np.float64)
    tau = kendall_tau_b(ra, rb)
    lower = upper = None
    if tau is not None:
        lower, upper = kendall_tau_interval(tau, len(models), confidence=confidence)
    rank_a, rank_b = _ranks(ra), _ranks(rb)
    moves = sorted(
        (
            RankMove(m, int(rank_a[k]), int(rank_b[k]), int(rank_b[k] - rank_a[k]))
            for k, m in enumerate(models)
            if rank_b[k] != rank_a[k]
        ),
        key=lambda mv: (-abs(mv.move), mv.model),
    )[:top]
    flips = []
    for i in range(len(models)):
        for j in range(i + 1, len(models)):
            if (ra[i] - ra[j]) * (rb[i] - rb[j]) >= 0:
                continue
            hi_a, hi_b = (i, j) if ra[i] > ra[j] else (j, i)
            a_hi, a_lo = models[hi_a], models[hi_b]  # above / below on board A
            flips.append(
                PairFlip(
                    higher_a=a_hi,
                    higher_b=a_lo,
                    separated_a=_separated(board_a[a_hi], board_a[a_lo]),
                    separated_b=_separated(board_b[a_lo], board_b[a_hi]),
                )
            )
    flips.sort(key=lambda f: (not f.significant, f.higher_a, f.higher_b))
    return RankStability(
        models=models,
        only_a=tuple(sorted(set(board_a) - set(board_b))),
        only_b=tuple(sorted(set(board_b) - set(board_a))),
        tau=tau,
        tau_lower=lower,
        tau_upper=upper,
        confidence=confidence,
        interval_method=INTERVAL_METHOD,
        moves=tuple(moves),
        flips=tuple(flips),
        n_pairs=len(models) * (len(models) - 1) // 2,
    )


__all__ = [
    "INTERVAL_METHOD",
    "PairFlip",
    "RankMove",
    "RankStability",
    "kendall_tau_b",
    "kendall_tau_interval",
    "rank_stability",
]
