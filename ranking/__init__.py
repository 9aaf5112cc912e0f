"""Ludus ranking library: ratings, pairings, brackets and simulations (numpy/scipy only).

This package never imports Django. Public functions are re-exported here.
"""

from __future__ import annotations

from ranking.errors import (
    BattleFileError,
    ConvergenceError,
    InputError,
    PairingError,
    RankingError,
)
from ranking.types import A_WINS, B_WINS, OUTCOMES, TIE, TIE_BOTHBAD, RatingResult

__all__ = [
    "A_WINS",
    "B_WINS",
    "OUTCOMES",
    "TIE",
    "TIE_BOTHBAD",
    "BattleFileError",
    "ConvergenceError",
    "InputError",
    "PairingError",
    "RankingError",
    "RatingResult",
]
