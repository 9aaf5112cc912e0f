"""The battle container and the readers of DESIGN.md's battle file formats."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ranking.types import A_WINS, B_WINS, TIE, TIE_BOTHBAD


@dataclass(frozen=True)
class Battles:
    """Integer-coded pairwise battles.

    Attributes
    ----------
    models : tuple of str
        Model names; ``a`` and ``b`` index into it.
    a, b : ndarray of int32
        The first-side and second-side model of each battle.
    outcome : ndarray of int8
        One of :data:`ranking.types.A_WINS`, ``B_WINS``, ``TIE``, ``TIE_BOTHBAD``.
    tstamp : ndarray of float64 or None
        Seconds; present only when every battle has one.
    weight : ndarray of float64 or None
        Optional per-battle weights (``None`` means 1 each).
    """

    models: tuple[str, ...]
    a: NDArray[np.int32]
    b: NDArray[np.int32]
    outcome: NDArray[np.int8]
    tstamp: NDArray[np.float64] | None = None
    weight: NDArray[np.float64] | None = None

    def __len__(self) -> int:
        return int(self.a.shape[0])

    @property
    def n_models(self) -> int:
        return len(self.models)

    def pair_counts(self) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Return ``(wins, ties)``, two ``n × n`` matrices.

        ``wins[i, j]`` counts (or sums the weights of) battles in which ``i`` beat ``j``,
        whichever side each played; ``ties[i, j]`` counts ties of both kinds between ``i``
        and ``j`` and is symmetric.
        """
        n = self.n_models
        w = np.ones(len(self)) if self.weight is None else self.weight
        o = self.outcome
        winner = np.where(o == B_WINS, self.b, self.a)
        loser = np.where(o == B_WINS, self.a, self.b)
        decided = (o == A_WINS) | (o == B_WINS)
        wins = np.bincount(winner[decided].astype(np.int64) * n + loser[decided],
                           weights=w[decided], minlength=n * n).reshape(n, n)
        tied = (o == TIE) | (o == TIE_BOTHBAD)
        ties = np.bincount(self.a[tied].astype(np.int64) * n + self.b[tied],
                           weights=w[tied], minlength=n * n).reshape(n, n)
        return wins, ties + ties.T
