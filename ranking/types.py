"""Shared result containers of the ranking library."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

#: Outcome codes used in every integer-coded battle array.
A_WINS: int = 0
B_WINS: int = 1
TIE: int = 2
TIE_BOTHBAD: int = 3

#: The outcome strings of DESIGN.md, indexed by outcome code.
OUTCOMES: tuple[str, ...] = ("model_a", "model_b", "tie", "tie (bothbad)")


def best_first(models: Sequence[str], *scores: NDArray[Any]) -> NDArray[np.int64]:
    """Return the indices of ``models`` best first: by ``scores`` (the first decides), then name.

    Higher scores are better; a later score breaks ties of the earlier ones.
    """
    names = np.array(models, dtype=object)
    return np.lexsort((names, *(-np.asarray(x) for x in reversed(scores)))).astype(np.int64)


@dataclass(frozen=True)
class RatingResult:
    """Ratings of a set of models by one method.

    Attributes
    ----------
    method : str
        ``"elo"``, ``"bt"``, ``"openskill"``, ``"winrate"`` ...
    params : dict
        The parameters that produced the ratings (JSON-able), so the result is reproducible.
    models : list of str
        Model names; every array below is indexed like this list.
    rating : ndarray of float
        Point estimates.
    lower, upper : ndarray of float or None
        Interval bounds, ``None`` when no interval was computed; ``-inf`` / ``inf`` for a
        side the data do not bound (``null`` in the rows).
    battles : ndarray of int
        Number of battles each model took part in.
    component : ndarray of int
        Connected component of the comparison graph (0 is the largest).
    n_battles : int
        Number of battles used.
    extra : dict
        Method-specific per-model arrays (for example ``{"mu": ..., "sigma": ...}``).
    """

    method: str
    params: dict[str, Any]
    models: list[str]
    rating: NDArray[np.float64]
    lower: NDArray[np.float64] | None
    upper: NDArray[np.float64] | None
    battles: NDArray[np.int64]
    component: NDArray[np.int64]
    n_battles: int
    extra: dict[str, NDArray[Any]] = field(default_factory=dict)

    @property
    def rank(self) -> NDArray[np.int64]:
        """Rank(UB): 1 + number of models whose lower bound exceeds this model's upper bound.

        Without an interval this is the ordinal rank (1 = best, ties share the better rank).
        """
        if self.lower is None or self.upper is None:
            r = self.rating
            return (1 + (r[None, :] > r[:, None]).sum(axis=1)).astype(np.int64)
        return (1 + (self.lower[None, :] > self.upper[:, None]).sum(axis=1)).astype(np.int64)

    def order(self) -> NDArray[np.int64]:
        """Return the indices of the models sorted by rating, best first (stable, ties by name)."""
        return best_first(self.models, self.rating)

    def to_rows(self) -> list[dict[str, Any]]:
        """Rows of the DESIGN.md JSON output, sorted by rating, best first."""
        rank = self.rank
        rows: list[dict[str, Any]] = []
        for i in self.order():
            row: dict[str, Any] = {
                "model": self.models[i],
                "rating": float(self.rating[i]),
                "lower": _bound(self.lower, i),
                "upper": _bound(self.upper, i),
                "rank": int(rank[i]),
                "battles": int(self.battles[i]),
                "component": int(self.component[i]),
            }
            for key, values in self.extra.items():
                value = values[i]
                row[key] = value.item() if hasattr(value, "item") else value
            rows.append(row)
        return rows

    def to_json(self) -> dict[str, Any]:
        """Return the DESIGN.md JSON document for ``python -m ranking rate``."""
        return {
            "method": self.method,
            "params": self.params,
            "n_battles": int(self.n_battles),
            "ratings": self.to_rows(),
        }


def _bound(values: NDArray[np.float64] | None, i: int) -> float | None:
    """Return an interval bound for the JSON rows: ``None`` when absent or unbounded."""
    if values is None or not np.isfinite(values[i]):
        return None
    return float(values[i])
