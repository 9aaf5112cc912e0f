"""Seeded single-elimination brackets: exact and Monte Carlo probabilities, live state.

Entrants are given in seed order (seed 1 first). The bracket has ``2**R`` slots, ``R`` the
smallest number of rounds that holds the field; standard seeding places seed 1 against the
lowest seed, and seeds 1 and 2 can meet only in the final. When the field is not a power of
two the missing entrants are byes, and they fall to the top seeds (seed ``s`` is drawn
against "seed" ``2**R + 1 - s``, which does not exist for the top ``2**R - N`` seeds).

Win probabilities come either from ratings, ``P(i beats j) = 1 / (1 + base**(-(r_i - r_j)
/ scale))`` (the Elo/Bradley-Terry curve, scale 400 and base 10 by default), or from a
matrix ``p[i, j]`` of pairwise win probabilities with ``p[i, j] + p[j, i] = 1``.

:mod:`ranking.bracket.probabilities` holds the exact and Monte Carlo probabilities (single
and double elimination), :mod:`ranking.bracket.state` the live bracket of a tournament.
"""

from __future__ import annotations

from ranking.bracket.probabilities import (
    BracketProbabilities,
    DoubleEliminationResult,
    bracket_monte_carlo,
    bracket_probabilities,
    bracket_samples,
    double_elimination,
    seed_slots,
    win_matrix,
)
from ranking.bracket.state import BracketState, bracket_advance, bracket_create, bracket_ranking

__all__ = [
    "BracketProbabilities",
    "BracketState",
    "DoubleEliminationResult",
    "bracket_advance",
    "bracket_create",
    "bracket_monte_carlo",
    "bracket_probabilities",
    "bracket_ranking",
    "bracket_samples",
    "double_elimination",
    "seed_slots",
    "win_matrix",
]
