"""Swiss-system tournaments: state, FIDE Dutch pairing (C.04.3) and random pairing.

A :class:`SwissState` holds the players (pairing number = start rank, rating, name) and,
per player and round, a :class:`RoundResult` in the vocabulary of the FIDE Tournament
Report File: the opponent, the colour (``"w"`` = first side shown to the judge) and the
TRF result code (``1 0 =`` played, ``W D L`` played unrated, ``+ -`` forfeits, ``U``
pairing-allocated bye, ``F H Z`` full-, half- and zero-point byes, ``" "`` absent).

The FIDE Dutch system lives in :mod:`ranking.swiss.dutch` (its docstring lists the known
deviations from bbpPairings), random pairing in :mod:`ranking.swiss.random_pairing`, the
state containers in :mod:`ranking.swiss.state`.

``system="random"`` pairs at random inside score groups, odd players floating to the
next group, as the Competitive Swiss-system Dynamics method does; it honours the same
absolute criteria and bye rules.

References
----------
FIDE Handbook C.04.1 (Basic rules for Swiss systems), C.04.3 (FIDE (Dutch) System,
rules in force from 1 February 2026). bbpPairings (Bierema Boyz Programming),
``src/swisssystems/dutch.cpp``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ranking._validation import as_rng
from ranking.errors import InputError
from ranking.swiss._players import summaries
from ranking.swiss.dutch import FULL_GRAPH_LIMIT, DutchPairer
from ranking.swiss.random_pairing import pair_random
from ranking.swiss.state import (
    PLAYED_CODES,
    RESULT_CODES,
    Pairing,
    RoundResult,
    Scoring,
    SwissPlayer,
    SwissState,
    record_round,
    swiss_from_ratings,
)

__all__ = [
    "FULL_GRAPH_LIMIT",
    "PLAYED_CODES",
    "RESULT_CODES",
    "Pairing",
    "RoundResult",
    "Scoring",
    "SwissPlayer",
    "SwissState",
    "pair_round",
    "play_swiss",
    "record_round",
    "swiss_from_ratings",
]


def pair_round(
    state: SwissState,
    *,
    system: str = "dutch",
    rng: int | np.random.Generator | None = None,
) -> Pairing:
    """Pair the next round.

    Parameters
    ----------
    state : SwissState
        Results so far; players in ``state.absent`` or with a pre-entered result for the
        next round (a requested bye) are not paired.
    system : {"dutch", "random"}
        FIDE Dutch system (C.04.3 as bbpPairings implements it) or random pairing inside
        score groups.
    rng : int or numpy Generator, optional
        Randomness for ``system="random"``.

    Returns
    -------
    Pairing
        Pairs as (first side, second side), sorted like bbpPairings' output, and the
        pairing-allocated bye (``None`` for an even field).

    Raises
    ------
    PairingError
        When no pairing satisfies the absolute criteria.
    """
    if system not in ("dutch", "random"):
        raise InputError(f"system must be 'dutch' or 'random'; got {system!r}")
    ps, n_rounds = summaries(state)
    if not ps:
        return Pairing(pairs=())
    if system == "random":
        return pair_random(ps, state, n_rounds, as_rng(rng))
    return DutchPairer(ps, state, n_rounds).run()


def play_swiss(
    state: SwissState,
    rounds: int,
    outcome: Callable[[int, int, np.random.Generator], str],
    *,
    system: str = "dutch",
    rng: int | np.random.Generator | None = None,
) -> SwissState:
    """Play ``rounds`` more rounds, pairing with ``system`` and scoring with ``outcome``.

    ``outcome(first, second, rng)`` returns a result code of :func:`record_round`.
    """
    gen = as_rng(rng)
    for _ in range(rounds):
        pairing = pair_round(state, system=system, rng=gen)
        codes = [outcome(a, b, gen) for a, b in pairing.pairs]
        state = record_round(state, pairing, codes)
    return state
