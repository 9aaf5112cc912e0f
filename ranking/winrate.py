"""Win-rate and battle-count matrices, and the average win rate against the field.

The average win rate comes with a Wilson score interval.
"""

from __future__ import annotations

from statistics import NormalDist

import numpy as np
from numpy.typing import NDArray

from ranking._validation import check_probability
from ranking.battles import Battles, components
from ranking.types import RatingResult


def win_matrix(battles: Battles) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Return ``(wins, counts)``, two ``n × n`` matrices.

    ``wins[i, j]`` is the number of battles ``i`` won against ``j``, a tie counting ½;
    ``counts[i, j]`` the number of battles between them (symmetric). ``wins / counts``
    (where ``counts > 0``) is the empirical win rate, and ``wins + wins.T == counts``.
    """
    wins, ties = battles.pair_counts()
    return wins + 0.5 * ties, wins + wins.T + ties


def win_rate_matrix(battles: Battles) -> NDArray[np.float64]:
    """Empirical P(i beats j) (ties ½); ``nan`` for pairs that never met and the diagonal."""
    wins, counts = win_matrix(battles)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, wins / np.where(counts > 0, counts, 1.0), np.nan)


def average_win_rate(battles: Battles, *, confidence: float = 0.95) -> RatingResult:
    """Mean win rate of each model over the opponents it met (ties ½), with a Wilson interval.

    The rating is evalica's ``average_win_rate``: each opponent weighs the same whatever the
    number of battles against it; a model that never played scores 0.

    The interval is the Wilson score interval [1]_ for that average: the values ``q`` for
    which ``(p̄ - q)² <= z² q (1 - q) / n_eff``, where ``p̄`` is the rating and
    ``n_eff = K² / Σ_j 1/n_j`` for ``n_j`` battles against each of the ``K`` opponents met
    (``q (1 - q) / n_eff`` is the variance of the average of ``K`` win rates that all equal
    ``q``). With one opponent, or the same number of battles against each, it is the plain
    Wilson interval of the model's pooled battles. It always contains the rating, is never
    empty or a point, and narrows as ``1/√n``. A model with no battles gets ``[0, 1]``, the
    interval's limit as ``n_eff → 0``: nothing is known about it.

    Parameters
    ----------
    battles : Battles
        The battles (weights count as numbers of battles).
    confidence : float, default 0.95
        Interval coverage; ``z = Φ⁻¹((1 + confidence) / 2)``.

    Returns
    -------
    RatingResult
        ``method="winrate"``, ratings in [0, 1] with ``lower``/``upper``; ``extra`` holds
        ``opponents`` (the number of distinct opponents met).

    References
    ----------
    .. [1] E. B. Wilson, "Probable inference, the law of succession, and statistical
       inference", Journal of the American Statistical Association 22 (1927).
    """
    confidence = check_probability("confidence", confidence)
    wins, counts = win_matrix(battles)
    met = counts > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        rates = np.where(met, wins / np.where(met, counts, 1.0), 0.0)
        inverse_n = np.where(met, 1.0 / np.where(met, counts, 1.0), 0.0).sum(axis=1)
    opponents = met.sum(axis=1)
    played = opponents > 0
    rating = np.where(played, rates.sum(axis=1) / np.maximum(opponents, 1), 0.0)
    z2 = NormalDist().inv_cdf(0.5 + confidence / 2.0) ** 2
    # z² / n_eff; a model that never played has n_eff = 0 and gets [0, 1]
    c = np.where(played, z2 * inverse_n / np.maximum(opponents, 1) ** 2, np.inf)
    with np.errstate(invalid="ignore"):
        centre = np.where(played, (rating + c / 2.0) / (1.0 + c), 0.5)
        half = np.where(played, np.sqrt(c * rating * (1.0 - rating) + c * c / 4.0) / (1.0 + c), 0.5)
    lower = np.clip(np.minimum(centre - half, rating), 0.0, 1.0)
    upper = np.clip(np.maximum(centre + half, rating), 0.0, 1.0)
    return RatingResult(
        method="winrate",
        params={"ties": 0.5, "ci": "wilson", "confidence": confidence},
        models=list(battles.models),
        rating=rating.astype(np.float64),
        lower=lower,
        upper=upper,
        battles=battles.battles_per_model(),
        component=components(battles),
        n_battles=battles.n_battles,
        extra={"opponents": opponents.astype(np.int64)},
    )
