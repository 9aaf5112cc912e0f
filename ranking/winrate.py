"""Win-rate and battle-count matrices, and the average win rate against the field."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

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


def average_win_rate(battles: Battles) -> RatingResult:
    """Mean win rate of each model over the opponents it met (ties ½).

    This is evalica's ``average_win_rate``: each opponent weighs the same whatever the
    number of battles against it; a model that never played scores 0.

    Returns
    -------
    RatingResult
        ``method="winrate"``, ratings in [0, 1], without intervals; ``extra`` holds
        ``opponents`` (the number of distinct opponents met).
    """
    rates = win_rate_matrix(battles)
    met = np.isfinite(rates)
    opponents = met.sum(axis=1)
    total = np.where(met, rates, 0.0).sum(axis=1)
    rating = np.where(opponents > 0, total / np.maximum(opponents, 1), 0.0)
    return RatingResult(method="winrate", params={"ties": 0.5}, models=list(battles.models),
                        rating=rating.astype(np.float64), lower=None, upper=None,
                        battles=battles.battles_per_model(), component=components(battles),
                        n_battles=battles.n_battles,
                        extra={"opponents": opponents.astype(np.int64)})
