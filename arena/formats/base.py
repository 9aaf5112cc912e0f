"""The protocol every tournament format implements, the registry, and helpers they share.

A format is one module in :mod:`arena.formats` with one :class:`TournamentFormat` subclass:
it validates its ``config``, says how many rounds there are, pairs a round, acts after a
round (eliminations), orders the standings and describes what remains to be played for the
prediction. The pure rules (Berger tables, the Dutch system, brackets, tie-breaks, the
simulation) live in :mod:`ranking`; the lifecycle and persistence live in
:mod:`arena.services.tournaments`, which only calls the format through this protocol.
"""

from __future__ import annotations

import abc
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from arena.models import Competitor, Entry, Match, PromptSet, Round, Tournament

Errors = dict[str, list[str]]


@dataclass(frozen=True)
class RoundPairing:
    """Pairs (first side, second side) and byes (entry, points) of one round."""

    pairs: list[tuple[Entry, Entry]]
    byes: list[tuple[Entry, float]] = field(default_factory=list)


@dataclass(frozen=True)
class Remaining:
    """What remains to be played, for :func:`ranking.simulate.simulate_rest`.

    ``steps`` are ``ranking.simulate`` steps; ``survival`` has one entry per round of a format
    that eliminates: who is known to have survived it (1.0 or 0.0 per entrant), ``None`` for
    rounds the simulation decides. ``alive``: who is still in the field. ``contenders``: who
    competes for first place (``None``: everyone).
    """

    steps: list[Any]
    survival: list[list[float] | None]
    alive: list[bool]
    contenders: list[bool] | None = None


class TournamentFormat(abc.ABC):
    """One tournament format. Subclasses set :attr:`kind`, :attr:`label`, :attr:`options`,
    :attr:`help`."""

    #: The value stored in ``Tournament.format`` and accepted by the API, forms and commands.
    kind: ClassVar[str]
    #: The name shown to people.
    label: ClassVar[str]
    #: Format-specific ``config`` keys (``forfeit_after`` and ``reuse_published_prompts``
    #: are common to every format and checked by the service).
    options: ClassVar[frozenset[str]] = frozenset()
    #: An example ``config`` and what it means, shown on the staff form.
    help: ClassVar[str] = "{}"
    #: FIDE tie-breaks the standings report, in order of precedence.
    tiebreaks: ClassVar[tuple[str, ...]] = ()
    #: How the tournament page shows the games: ``bracket``, ``rounds`` or ``crosstable``
    #: (its partial, ``arena/formats/<kind>.html``, lays them out).
    page_view: ClassVar[str] = "rounds"
    #: Whether the page shows a failure-sensitivity sweep (formats that eliminate by record).
    failure_sensitivity: ClassVar[bool] = False

    @abc.abstractmethod
    def validate(
        self, config: dict[str, Any], *, n: int, prompt_sets: Sequence[PromptSet], errors: Errors
    ) -> dict[str, Any]:
        """The normalised format-specific options; problems go to ``errors`` by field."""

    @abc.abstractmethod
    def total_rounds(self, tournament: Tournament) -> int:
        """How many rounds the tournament plays (the arena's grows with its field)."""

    @abc.abstractmethod
    def pair(self, tournament: Tournament, number: int) -> RoundPairing:
        """The pairing of round ``number`` (rounds before it are complete)."""

    def after_round(self, tournament: Tournament, number: int) -> None:
        """Act on a completed round (eliminations); nothing by default."""
        return None

    def prompt_pools(self, tournament: Tournament) -> list[tuple[PromptSet | None, list[int]]]:
        """Each prompt pool (``None``: all the tournament's sets) and the rounds drawing on it."""
        return [(None, list(range(1, self.total_rounds(tournament) + 1)))]

    def standings(self, tournament: Tournament, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """``rows`` (points, wins, ... per entrant) in standings order; may add ``tiebreaks``,
        ``rank`` (``None``: listed, not ranked) and ``place``. By default: still in before out,
        then points, then seed."""
        return sorted(
            rows,
            key=lambda r: (
                r["eliminated_in_round"] is not None,
                -(r["eliminated_in_round"] or 0),
                -r["points"],
                r["seed"],
            ),
        )

    @abc.abstractmethod
    def remaining(self, tournament: Tournament, entries: list[Entry]) -> Remaining:
        """What remains to be played (the prediction simulates it)."""

    def advancer(self, match: Match, seeds: dict[int, int]) -> int | None:
        """Competitor id that advanced from a finished match, for knockout formats."""
        return None

    def round_standings(self, tournament: Tournament) -> list[dict[str, Any]]:
        """Standings after each complete round (``[{"round", "standings"}]``), for formats
        whose standings depend on the order of play; none by default."""
        return []

    def byes_score(self) -> bool:
        """Whether a bye's points count in the standings."""
        return True

    def results_extra(self, tournament: Tournament) -> dict[str, Any]:
        """Format-specific keys stored in ``Tournament.results`` at the end."""
        return {}


_REGISTRY: dict[str, TournamentFormat] = {}


def format_register(fmt: TournamentFormat) -> TournamentFormat:
    """Add a format to the registry (each format module does this for its kinds)."""
    if fmt.kind in _REGISTRY:
        raise ValueError(f"format {fmt.kind!r} is registered twice")
    _REGISTRY[fmt.kind] = fmt
    return fmt


def format_get(kind: str) -> TournamentFormat:
    """The format called ``kind``; ``KeyError`` names the known ones."""
    try:
        return _REGISTRY[kind]
    except KeyError:
        raise KeyError(
            f"unknown tournament format {kind!r}; expected one of {', '.join(sorted(_REGISTRY))}"
        ) from None


def format_kinds() -> tuple[str, ...]:
    """The registered formats, sorted (registration order follows imports, so is not used)."""
    return tuple(sorted(_REGISTRY))


def format_choices() -> list[tuple[str, str]]:
    """``(kind, label)`` of every registered format, for choice fields and filters."""
    return [(kind, _REGISTRY[kind].label) for kind in format_kinds()]


def format_label(kind: str) -> str:
    """The label of ``kind``; an unregistered kind (a format since removed) shows as itself."""
    fmt = _REGISTRY.get(kind)
    return fmt.label if fmt is not None else kind


# --------------------------------------------------------------------------- shared helpers


def int_option(
    config: dict[str, Any], key: str, lo: int, hi: int, default: int, errors: Errors
) -> int | None:
    """``config[key]`` as an integer in ``[lo, hi]`` (``default`` when absent)."""
    value = config.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        errors[f"config.{key}"] = [f"must be an integer from {lo} to {hi}; got {value!r}"]
        return None
    return value


def field_entries(tournament: Tournament) -> list[Entry]:
    """The field in seed order (entrants withdrawn before the start are not in it)."""
    return list(
        tournament.entries.filter(withdrawn=False).select_related("competitor").order_by("seed")
    )


def is_withdrawn(entry: Entry) -> bool:
    """Whether the entrant left (withdrawn before the start, or its model withdrawn since)."""
    return entry.withdrawn or entry.competitor.status == Competitor.Status.WITHDRAWN


def current_round(tournament: Tournament) -> tuple[Round | None, int, bool]:
    """The latest round, its number (0 before the first) and whether it is complete."""
    rnd = tournament.rounds.order_by("-number").first()
    return rnd, (rnd.number if rnd else 0), rnd is None or rnd.status == Round.Status.COMPLETE


def is_open(tournament: Tournament) -> bool:
    """Whether games remain to be played (draft, running or paused)."""
    return tournament.status in (
        Tournament.Status.DRAFT,
        Tournament.Status.RUNNING,
        Tournament.Status.PAUSED,
    )


def unfinished_pairs(rnd: Round | None, index: dict[int, int]) -> tuple[tuple[int, int], ...]:
    """The unfinished games of ``rnd`` as entrant indices (for a ``FixedRound``)."""
    if rnd is None or rnd.status == Round.Status.COMPLETE:
        return ()
    return tuple(
        (index[m.competitor_a_id], index[m.competitor_b_id])
        for m in rnd.matches.exclude(status__in=Match.FINISHED).order_by("board", "id")
    )


def record_wins(tournament: Tournament) -> dict[int, float]:
    """Each entrant's record: 1 a win, ½ a tie (a failed match counts as a tie)."""
    wins: dict[int, float] = {e.competitor_id: 0.0 for e in tournament.entries.all()}
    for m in Match.objects.filter(
        tournament=tournament, status__in=[Match.Status.DONE, Match.Status.FORFEIT]
    ):
        if m.outcome == "model_a":
            wins[m.competitor_a_id] += 1
        elif m.outcome == "model_b":
            wins[m.competitor_b_id] += 1
        else:
            wins[m.competitor_a_id] += 0.5
            wins[m.competitor_b_id] += 0.5
    return wins


def default_swiss_rounds(n: int) -> int:
    """``ceil(log2 n)`` rounds, at least one."""
    return max(1, math.ceil(math.log2(max(n, 2))))
