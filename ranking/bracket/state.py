"""A live single-elimination bracket: create it, record winners round by round, rank it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from ranking.bracket.probabilities import rounds_for, seed_slots
from ranking.errors import InputError


@dataclass(frozen=True)
class BracketState:
    """A single-elimination bracket in progress; advance it with :func:`bracket_advance`.

    Attributes
    ----------
    names : tuple of str
        Entrants in seed order.
    ratings : tuple of float or None
        Ratings used for re-seeding and to order equal placements.
    rounds : int
        Number of rounds.
    third_place : bool
        Whether the semi-final losers play for third place (alongside the final).
    reseed : bool
        Whether each round is re-paired from the survivors' current ratings (best
        remaining against worst remaining) instead of following the fixed bracket.
    matches : tuple of tuple of (int, int or None)
        The matches of each round drawn so far (entrant indices; ``None`` is a bye). The
        last round holds the third-place match after the final when one is played.
    winners : tuple of tuple of int
        Winners of each completed round, one per match (byes included).
    """

    names: tuple[str, ...]
    ratings: tuple[float, ...] | None
    rounds: int
    third_place: bool
    reseed: bool
    matches: tuple[tuple[tuple[int, int | None], ...], ...]
    winners: tuple[tuple[int, ...], ...] = field(default=())

    @property
    def finished(self) -> bool:
        """Whether every round has been played."""
        return len(self.winners) == self.rounds

    @property
    def current_round(self) -> int:
        """1-based number of the round to play next (``rounds + 1`` once finished)."""
        return len(self.winners) + 1

    def pending(self) -> list[tuple[int, int]]:
        """Return the matches of the current round that must be played (byes left out)."""
        if self.finished:
            return []
        return [(a, b) for a, b in self.matches[len(self.winners)] if b is not None]

    @property
    def champion(self) -> int | None:
        """The winner's entrant index once the bracket is finished, else ``None``."""
        return self.winners[-1][0] if self.finished else None

    def to_json(self) -> dict[str, Any]:
        """Return a JSON-able dict (for storing a live bracket, e.g. in a Django JSONField)."""
        return {
            "names": list(self.names),
            "ratings": None if self.ratings is None else list(self.ratings),
            "rounds": self.rounds,
            "third_place": self.third_place,
            "reseed": self.reseed,
            "matches": [[[a, b] for a, b in rnd] for rnd in self.matches],
            "winners": [list(w) for w in self.winners],
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> BracketState:
        """Rebuild a state written by :meth:`to_json`."""
        try:
            return cls(
                names=tuple(str(x) for x in doc["names"]),
                ratings=None
                if doc.get("ratings") is None
                else tuple(float(x) for x in doc["ratings"]),
                rounds=int(doc["rounds"]),
                third_place=bool(doc["third_place"]),
                reseed=bool(doc["reseed"]),
                matches=tuple(
                    tuple((int(a), None if b is None else int(b)) for a, b in rnd)
                    for rnd in doc["matches"]
                ),
                winners=tuple(tuple(int(x) for x in w) for w in doc["winners"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"not a bracket state: {exc!r}") from None


def bracket_create(
    names: Sequence[str],
    *,
    ratings: Sequence[float] | None = None,
    third_place: bool = False,
    reseed: bool = False,
    seed_by_rating: bool = False,
) -> BracketState:
    """Draw a seeded single-elimination bracket.

    Parameters
    ----------
    names : sequence of str
        Entrants in seed order (unless ``seed_by_rating``).
    ratings : sequence of float, optional
        Current ratings, one per entrant.
    third_place : bool, default False
        Play a third-place match between the semi-final losers.
    reseed : bool, default False
        Re-pair every round from current ratings (see :func:`bracket_advance`).
    seed_by_rating : bool, default False
        Seed by ``ratings`` (highest first) instead of the order of ``names``.

    Returns
    -------
    BracketState
    """
    names_t = tuple(str(x) for x in names)
    if len(set(names_t)) != len(names_t):
        raise InputError("entrant names must be unique")
    rounds = rounds_for(len(names_t))
    if third_place and len(names_t) < 4:
        raise InputError("a third-place match needs at least 4 entrants")
    r_t = None
    if ratings is not None:
        r = np.asarray(ratings, dtype=np.float64)
        if r.shape != (len(names_t),) or not np.all(np.isfinite(r)):
            raise InputError(f"ratings must be {len(names_t)} finite numbers, one per entrant")
        if seed_by_rating:
            idx = np.argsort(-r, kind="stable")
            names_t = tuple(names_t[i] for i in idx)
            r = r[idx]
        r_t = tuple(float(x) for x in r)
    elif seed_by_rating or reseed:
        raise InputError("ratings are required to seed or re-seed by rating")
    n = len(names_t)
    order = seed_slots(1 << rounds)
    slots = [int(s) if s < n else None for s in order]
    first = tuple((int(a), b) for a, b in zip(slots[0::2], slots[1::2]))  # type: ignore[arg-type]
    return BracketState(
        names=names_t,
        ratings=r_t,
        rounds=rounds,
        third_place=third_place,
        reseed=reseed,
        matches=(first,),
    )


def bracket_advance(
    state: BracketState, winners: Sequence[int | str], *, ratings: Sequence[float] | None = None
) -> BracketState:
    """Record the winners of the current round and draw the next one.

    Parameters
    ----------
    state : BracketState
        The bracket so far (not modified).
    winners : sequence of int or str
        One winner (entrant index or name) per match of ``state.pending()``, in that order.
        In the last round with a third-place match: the champion, then the third place.
    ratings : sequence of float, optional
        Updated ratings (one per entrant, seed order); they replace the stored ones and,
        with ``state.reseed``, decide the next round's pairs.

    Returns
    -------
    BracketState
    """
    if state.finished:
        raise InputError("the bracket is finished")
    index = {name: i for i, name in enumerate(state.names)}
    resolved: list[int] = []
    for w in winners:
        if isinstance(w, str):
            if w not in index:
                raise InputError(f"winner {w!r} is not an entrant")
            resolved.append(index[w])
        else:
            resolved.append(int(w))
    pending = state.pending()
    if len(resolved) != len(pending):
        raise InputError(
            f"expected {len(pending)} winners for round {state.current_round}; got {len(resolved)}"
        )
    for (a, b), w in zip(pending, resolved):
        if w not in (a, b):
            raise InputError(
                f"winner {state.names[w] if 0 <= w < len(state.names) else w!r}"
                f" did not play in match {state.names[a]} - {state.names[b]}"
            )
    it = iter(resolved)
    round_winners = tuple(
        a if b is None else next(it) for a, b in state.matches[len(state.winners)]
    )
    r_t = state.ratings
    if ratings is not None:
        r = np.asarray(ratings, dtype=np.float64)
        if r.shape != (len(state.names),) or not np.all(np.isfinite(r)):
            raise InputError(f"ratings must be {len(state.names)} finite numbers")
        r_t = tuple(float(x) for x in r)
    new = replace(state, ratings=r_t, winners=state.winners + (round_winners,))
    if new.finished:
        return new
    last = state.matches[len(state.winners)]
    pairs: list[tuple[int, int | None]]
    if state.reseed and r_t is not None:
        rt = r_t
        alive = sorted(round_winners, key=lambda i: (-rt[i], i))
        pairs = [(alive[k], alive[-1 - k]) for k in range(len(alive) // 2)]
    else:
        pairs = [(round_winners[k], round_winners[k + 1]) for k in range(0, len(round_winners), 2)]
    if new.current_round == state.rounds and state.third_place:
        # semi-finals never hold a bye: at least 4 entrants
        losers = [
            int(b) if w == a else a  # type: ignore[arg-type]
            for (a, b), w in zip(last, round_winners)
        ]
        if state.reseed and r_t is not None:
            rt = r_t
            losers = sorted(losers, key=lambda i: (-rt[i], i))
        pairs.append((losers[0], losers[1]))
    return replace(new, matches=new.matches + (tuple(pairs),))


def bracket_ranking(
    state: BracketState, *, ratings: Sequence[float] | None = None
) -> list[tuple[str, int]]:
    """Return the ranking a finished bracket produces: placement first, then rating.

    The champion is 1st and the finalist 2nd; with a third-place match its winner is 3rd
    and its loser 4th, otherwise both semi-final losers share 3rd; entrants knocked out in
    round ``k`` of ``R`` share place ``2**(R - k) + 1``. Entrants with the same placement
    are ordered by rating (highest first), then seed, as ArenaRL orders its tournament
    results.

    Parameters
    ----------
    state : BracketState
        A finished bracket.
    ratings : sequence of float, optional
        Ratings for the within-placement order (default: the ratings stored in ``state``).

    Returns
    -------
    list of (str, int)
        ``(name, place)``, best first.

    References
    ----------
    .. [1] ArenaRL: tournament-based relative ranking for open-ended agents (seeded
       single elimination; rank by round reached, then by score).
    """
    if not state.finished:
        raise InputError("the bracket is not finished")
    n = len(state.names)
    r = ratings if ratings is not None else state.ratings
    rr = np.zeros(n) if r is None else np.asarray(r, dtype=np.float64)
    if rr.shape != (n,):
        raise InputError(f"ratings must have {n} entries")
    R = state.rounds
    place = np.zeros(n, dtype=np.int64)
    for k, (matches, won) in enumerate(zip(state.matches, state.winners), start=1):
        final_matches = matches[:1] if (k == R and state.third_place) else matches
        for (a, b), w in zip(final_matches, won):
            if b is None:
                continue
            loser = b if w == a else a
            place[loser] = (1 << (R - k)) + 1
        if k == R:
            place[won[0]] = 1
            if state.third_place:
                (a, b), w = matches[1], won[1]
                place[w] = 3
                place[b if w == a else a] = 4
    order = sorted(range(n), key=lambda i: (place[i], -rr[i], i))
    return [(state.names[i], int(place[i])) for i in order]
