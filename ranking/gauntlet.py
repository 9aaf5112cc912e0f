"""Gauntlet: one reference entrant plays every other entrant; the others are ranked against it.

The reference (entrant 0, the first seed: an incumbent model, a baseline) meets each
challenger ``1 .. n - 1`` in ``games`` games. The games are laid out in rounds: each round
pairs the reference with one block of at most ``block`` challengers, and the rounds run
game by game (every block plays its first game before any plays its second), so a pair
meets at most once a round. The sides alternate: in game ``g`` (0-based) the reference
takes the first side against challenger ``i`` when ``i + g`` is odd, so with one game the
reference is first against every other challenger, and over two games each pair has each
side once.

Challengers are ranked by their score against the reference (a win 1, a tie ½), ties
broken by seed; the reference is not ranked with them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ranking.errors import InputError

__all__ = ["GauntletSchedule", "gauntlet_order", "gauntlet_schedule"]


def _positive_int(value: object, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise InputError(f"{name} must be an integer of at least {minimum}; got {value!r}")
    return int(value)


@dataclass(frozen=True)
class GauntletSchedule:
    """A gauntlet over entrants ``0 .. n_players - 1`` (entrant 0 is the reference).

    Attributes
    ----------
    rounds : tuple of tuple of (int, int)
        ``rounds[r]`` holds the games of round ``r + 1`` as ``(first side, second side)``.
    games : int
        Games each challenger plays against the reference.
    block : int
        Challengers per round (the last block of a game may be smaller).
    """

    rounds: tuple[tuple[tuple[int, int], ...], ...]
    games: int
    block: int


def gauntlet_schedule(
    n_players: int, *, games: int = 1, block: int | None = None
) -> GauntletSchedule:
    """Return the rounds of a gauntlet of ``n_players`` (the reference and the challengers).

    Parameters
    ----------
    n_players : int
        At least 2.
    games : int, default 1
        Games between the reference and each challenger.
    block : int, optional
        Challengers met per round (default all of them: one round per game).

    Returns
    -------
    GauntletSchedule
        ``games * ceil((n_players - 1) / block)`` rounds.
    """
    n = _positive_int(n_players, "n_players", 2)
    g = _positive_int(games, "games", 1)
    size = n - 1 if block is None else _positive_int(block, "block", 1)
    size = min(size, n - 1)
    challengers = list(range(1, n))
    blocks = [challengers[k : k + size] for k in range(0, n - 1, size)]
    rounds = tuple(
        tuple((0, i) if (i + game) % 2 == 1 else (i, 0) for i in chunk)
        for game in range(g)
        for chunk in blocks
    )
    return GauntletSchedule(rounds=rounds, games=g, block=size)


def gauntlet_order(scores: ArrayLike) -> NDArray[np.int64]:
    """Return the challengers in standings order: best score against the reference, then seed.

    Parameters
    ----------
    scores : array_like, shape (n_players,)
        Each entrant's score against the reference, in seed order (entry 0, the reference's
        own total, is not used).

    Returns
    -------
    ndarray of int, shape (n_players - 1,)
        Challenger indices (``1 .. n_players - 1``), best first.
    """
    s = np.asarray(scores, dtype=np.float64)
    if s.ndim != 1 or len(s) < 2 or not np.all(np.isfinite(s)):
        raise InputError("scores must be at least 2 finite numbers, the reference's first")
    challengers = np.arange(1, len(s))
    return challengers[np.lexsort((challengers, -s[1:]))].astype(np.int64)
