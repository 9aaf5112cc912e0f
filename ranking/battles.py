"""The battle container: integer-coded pairwise battles and their comparison graph.

:class:`Battles` holds the battles as numpy arrays (model indices, outcome codes, optional
timestamps and weights); :func:`components` numbers the connected components of the
graph of who met whom. The file formats are read and written, and in-memory records
turned into battles, by :mod:`ranking.battle_files`, which builds on this module.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from ranking.errors import InputError
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
        Optional per-entry multiplicities (``None`` means 1 each). A pair-counts file
        becomes one entry per (pair, outcome) whose weight is the count.
    """

    models: tuple[str, ...]
    a: NDArray[np.int32]
    b: NDArray[np.int32]
    outcome: NDArray[np.int8]
    tstamp: NDArray[np.float64] | None = None
    weight: NDArray[np.float64] | None = None

    def __post_init__(self) -> None:
        """Coerce the arrays to their dtypes and refuse inconsistent battles."""
        set_ = object.__setattr__
        set_(self, "models", tuple(self.models))
        set_(self, "a", np.asarray(self.a, dtype=np.int32))
        set_(self, "b", np.asarray(self.b, dtype=np.int32))
        set_(self, "outcome", np.asarray(self.outcome, dtype=np.int8))
        n = self.a.shape[0]
        if self.a.ndim != 1 or self.b.shape != (n,) or self.outcome.shape != (n,):
            raise InputError("Battles: a, b and outcome must be 1-d arrays of one length")
        if self.tstamp is not None:
            set_(self, "tstamp", np.asarray(self.tstamp, dtype=np.float64))
            if self.tstamp.shape != (n,) or not np.isfinite(self.tstamp).all():
                raise InputError("Battles: tstamp must hold one finite number per battle")
        if self.weight is not None:
            set_(self, "weight", np.asarray(self.weight, dtype=np.float64))
            if self.weight.shape != (n,) or not (
                np.isfinite(self.weight).all() and (self.weight >= 0).all()
            ):
                raise InputError("Battles: weight must hold one finite value >= 0 per battle")
        if len(set(self.models)) != len(self.models):
            raise InputError("Battles: model names must be unique")
        if n:
            m = len(self.models)
            if min(self.a.min(), self.b.min()) < 0 or max(self.a.max(), self.b.max()) >= m:
                raise InputError("Battles: a and b must index into models")
            if self.outcome.min() < A_WINS or self.outcome.max() > TIE_BOTHBAD:
                raise InputError("Battles: outcome codes must be 0, 1, 2 or 3")
            if (self.a == self.b).any():
                i = int(np.flatnonzero(self.a == self.b)[0])
                raise InputError(
                    f"Battles: battle {i} is a self-battle of {self.models[self.a[i]]!r}"
                )

    def __len__(self) -> int:
        """Return the number of entries (battles, or weighted pair-count entries)."""
        return int(self.a.shape[0])

    @property
    def n_models(self) -> int:
        """Number of models, played or not."""
        return len(self.models)

    @property
    def n_battles(self) -> int:
        """Number of battles: the number of entries, or the sum of their weights."""
        if self.weight is None:
            return len(self)
        return int(round(float(self.weight.sum())))

    @property
    def is_aggregated(self) -> bool:
        """True when entries carry weights (pair counts): the battle order is unknown."""
        return self.weight is not None

    def pair_counts(self) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Return ``(wins, ties)``, two ``n × n`` matrices.

        ``wins[i, j]`` counts (or sums the weights of) battles in which ``i`` beat ``j``,
        whichever side each played; ``ties[i, j]`` counts ties of both kinds between ``i``
        and ``j`` and is symmetric. Computed once per object (a board's methods all read them)
        and returned read-only.
        """
        cached: tuple[NDArray[np.float64], NDArray[np.float64]] | None
        cached = self.__dict__.get("_pair_counts")
        if cached is None:
            cached = self._pair_counts()
            for matrix in cached:
                matrix.flags.writeable = False
            object.__setattr__(self, "_pair_counts", cached)  # a cache, not a field
        return cached

    def _pair_counts(self) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        n = self.n_models
        w = np.ones(len(self)) if self.weight is None else self.weight
        o = self.outcome
        winner = np.where(o == B_WINS, self.b, self.a)
        loser = np.where(o == B_WINS, self.a, self.b)
        decided = (o == A_WINS) | (o == B_WINS)
        wins = np.bincount(
            winner[decided].astype(np.int64) * n + loser[decided],
            weights=w[decided],
            minlength=n * n,
        ).reshape(n, n)
        tied = (o == TIE) | (o == TIE_BOTHBAD)
        ties = np.bincount(
            self.a[tied].astype(np.int64) * n + self.b[tied], weights=w[tied], minlength=n * n
        ).reshape(n, n)
        return (np.asarray(wins, dtype=np.float64), np.asarray(ties + ties.T, dtype=np.float64))

    def battles_per_model(self) -> NDArray[np.int64]:
        """Count the battles each model took part in (weights summed, then rounded)."""
        n = self.n_models
        w = None if self.weight is None else self.weight
        total = np.bincount(self.a, weights=w, minlength=n) + np.bincount(
            self.b, weights=w, minlength=n
        )
        return np.rint(total).astype(np.int64)

    def subset(self, mask: NDArray[np.bool_] | Sequence[bool]) -> Battles:
        """Return the battles selected by a boolean ``mask``; the model list is kept."""
        keep = np.asarray(mask, dtype=bool)
        if keep.shape != (len(self),):
            raise InputError(f"subset: mask must have one entry per battle ({len(self)})")
        return Battles(
            self.models,
            self.a[keep],
            self.b[keep],
            self.outcome[keep],
            None if self.tstamp is None else self.tstamp[keep],
            None if self.weight is None else self.weight[keep],
        )

    def with_models(self, models: Iterable[str]) -> Battles:
        """Return the same battles indexed into ``models``, which must contain every current name.

        Models that are new never play; use this to add them to a result.
        """
        names = tuple(models)
        position = {name: i for i, name in enumerate(names)}
        missing = [m for m in self.models if m not in position]
        if missing:
            raise InputError(f"with_models: {missing[0]!r} is missing from the new model list")
        remap = np.array([position[m] for m in self.models], dtype=np.int32)
        if not len(remap):
            remap = np.zeros(0, dtype=np.int32)
        return Battles(names, remap[self.a], remap[self.b], self.outcome, self.tstamp, self.weight)

    def chronological(self) -> NDArray[np.int64]:
        """Return the processing order for online methods: by ``tstamp`` (stable) when present."""
        if self.tstamp is None:
            return np.arange(len(self), dtype=np.int64)
        return np.argsort(self.tstamp, kind="stable").astype(np.int64)


def components(battles: Battles) -> NDArray[np.int64]:
    """Label the connected components of the comparison graph by size (0 = largest).

    Two models are connected when they met at least once (any outcome, positive weight).
    Components of equal size are numbered by their first model. A model that never
    played is a component of its own.
    """
    wins, ties = battles.pair_counts()
    return _components_from_counts(wins + wins.T + ties)


def _components_from_counts(games: NDArray[np.float64]) -> NDArray[np.int64]:
    n = games.shape[0]
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    i, j = np.nonzero(games > 0)
    graph = coo_matrix((np.ones(len(i)), (i, j)), shape=(n, n)).tocsr()
    _, labels = connected_components(graph, directed=False)
    return _renumber(labels)


def _renumber(labels: NDArray[np.int_]) -> NDArray[np.int64]:
    """Relabel components: 0 = largest, ties broken by the smallest member index."""
    sizes = np.bincount(labels)
    first = np.full(len(sizes), len(labels))
    np.minimum.at(first, labels, np.arange(len(labels)))
    order = np.lexsort((first, -sizes))
    new = np.empty(len(sizes), dtype=np.int64)
    new[order] = np.arange(len(sizes))
    return new[labels]
