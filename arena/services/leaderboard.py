"""Leaderboard building: battles from the database -> ranking/ -> versioned snapshots.

Every published number is reproducible: a snapshot stores the method, its parameters and
exactly which battles it used (``inputs``: the scope, the largest Battle and PairCount ids
used, the private competitors left out), so ``battles_export(snapshot=...)`` returns those
battles and ``python -m ranking rate`` on them gives the same numbers. ``data_version``
fingerprints the inputs and the board's presentation rule; rebuilding with unchanged data and
parameters creates no new version, so the rebuild task is idempotent.

A vote's cost does not grow with history: the rebuild first folds the new battles into the
pair aggregates (``arena.services.aggregates``), so Bradley-Terry, win rate, α-Rank and expected
score read O(pairs) rows; Elo and OpenSkill continue their stored state
(:class:`arena.models.LeaderboardState`) with the newer battles and replay the history only
when a battle older than the state's last one arrives; after a vote only the scopes with new
battles are rebuilt, and the slow parts (E[S] simulations, α-Rank and Elo bootstraps,
Bradley-Terry's profile bounds: its ratings are computed after every vote, identical to the
full fit's) and the boards that read every battle (``BOARD_EXTENSIONS``: the style-controlled
one) are refreshed by the periodic every-scope rebuild, one at a time across workers, at most
every ``LUDUS_LEADERBOARD_SLOW_SECONDS`` and no more often than their last computation time
divided by ``LUDUS_LEADERBOARD_SLOW_SHARE`` (:func:`slow_part_due`). Each snapshot's
``board["freshness"]`` says when its ratings and its interval were computed.

Public boards: battles of private competitors are left out; withdrawn competitors keep their
history and are marked. Only established models (see :func:`listing_rule`) of the main
comparison component are ranked.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import hashlib
import itertools
import json
import logging
import math
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import numpy as np
from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, InterfaceError, OperationalError, connection, transaction
from django.db.models import Max, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone
from numpy.typing import NDArray

from arena.models import (
    Battle,
    Competitor,
    KwiseBattle,
    LeaderboardSnapshot,
    LeaderboardState,
    PairCount,
    Source,
)
from arena.selectors.sampling import leaderboard_sampling_add
from arena.services.aggregates import (
    AggregateAdvance,
    aggregate_rows,
    aggregate_scopes,
    aggregates_advance,
)
from arena.services.queue import task_send
from ranking.battles import Battles, components
from ranking.types import A_WINS, B_WINS, OUTCOMES, TIE, RatingResult

log = logging.getLogger(__name__)

SOURCES: tuple[str, ...] = ("combined", "human", "judge", "import")
ALL_CATEGORIES = "all"
_OUTCOME_CODE = {name: code for code, name in enumerate(OUTCOMES)}


def cache_key(method: str, source: str, category: str) -> str:
    return f"leaderboard:v1:{method}:{source}:{category}"


def snapshot_etag(data: dict[str, Any]) -> str:
    """The HTTP entity tag of a published snapshot (as a dict): it names the exact version."""
    scope = f"{data['method']}.{data['source']}.{data['category']}"
    return f'"{scope}.v{data["version"]}.{data["data_version"]}"'


def snapshot_cache(snapshot: LeaderboardSnapshot) -> None:
    """Publish ``snapshot`` as its scope's latest in the cache: the dict, and its ETag
    under ``…:etag``.

    Readers check the small ETag key first and only fetch the dict when they have not
    rendered that version yet (see ``arena.api.views.leaderboard``).
    """
    data = snapshot_to_dict(snapshot)
    key = cache_key(snapshot.method, snapshot.source, snapshot.category)
    cache.set_many({key: data, f"{key}:etag": snapshot_etag(data)}, timeout=None)
    leaderboard_etags_forget()


#: ETags read from the cache, kept in this process for ``LUDUS_LEADERBOARD_ETAG_MEMO_SECONDS``
#: (key -> (etag, expiry)) by ``arena.selectors.leaderboard``: a poll then costs no cache round
#: trip. A snapshot published in another process shows up there within that time.
ETAG_MEMO: dict[str, tuple[str, float]] = {}


def leaderboard_etags_forget() -> None:
    """Forget the ETags this process remembers (a publish here, and tests)."""
    ETAG_MEMO.clear()


@dataclass(frozen=True)
class BattleData:
    """The battles of one (source, category) scope; ``competitor_ids[i]`` is model ``i``.

    ``inputs`` says exactly which stored rows these are (see :func:`battle_data_load`); the
    export of a snapshot selects the same rows from it.
    """

    battles: Battles
    competitor_ids: list[int]
    n_records: int  # individual Battle rows (the rest come from pair counts)
    inputs: dict[str, Any]
    #: per-model statistics of ``battles`` computed once for every board of the scope
    #: (:func:`_rows`)
    stats: dict[str, np.ndarray] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True)
class MethodSpec:
    """One board's method: its parameters, its function and what the board says about it.

    Attributes
    ----------
    params : dict
        Keyword arguments of ``fn`` (stored with every snapshot).
    fn : callable
        ``fn(battles, **params) -> RatingResult``.
    interval : str
        How the rows' ``lower``/``upper`` are computed, named on the methodology note; empty
        when the method gives no interval (the rows then carry null bounds and the page says so).
    ordered : bool
        An online method that needs individual battles in order: imported pair counts (which
        have no order) are left out of its data, and the board says how many. Its state is
        stored per scope (:class:`arena.models.LeaderboardState`) and continued with newer
        battles; its interval, if a bootstrap, is the slow part.
    slow : bool
        Expensive whatever the data size (simulations, bootstraps): refreshed at most every
        ``LUDUS_LEADERBOARD_SLOW_SECONDS`` by the scheduled rebuild.
    point_params : dict or None
        Keyword arguments that make ``fn`` return the same ratings without the interval
        (Bradley-Terry's profile bounds: most of its cost). The interval is then a slow part,
        kept per scope (:class:`arena.models.LeaderboardState`): a vote's rebuild computes the
        ratings and shows the last interval, widened to contain them, saying from which
        battles it was computed; the scheduled rebuild refreshes it.
    """

    params: dict[str, Any]
    fn: Callable[..., RatingResult]
    interval: str = ""
    ordered: bool = False
    slow: bool = False
    point_params: dict[str, Any] | None = None


def _scope_filter(source: str, category: str) -> Q:
    q = Q()
    if source != "combined":
        q &= Q(source=source)
    if category != ALL_CATEGORIES:
        q &= Q(category=category)
    return q


def uses_pair_counts(source: str) -> bool:
    """Whether a source's boards include imported pair counts."""
    return source in ("combined", Source.IMPORT)


#: How long a rebuild waits for battle writers in flight before giving up (a long import holds
#: its transaction for minutes; votes queue behind a waiting lock, so the wait stays short).
WATERMARK_LOCK_TIMEOUT_MS = 200


class WatermarksBusy(RuntimeError):
    """A long write (an import) is in flight: the battles it is adding cannot be pinned yet."""


def _watermarks() -> tuple[int, int]:
    """The largest Battle and PairCount ids such that every row at or below them is committed.

    On PostgreSQL a row with a smaller id can commit after one with a larger id; a brief SHARE
    lock waits for the writers in flight (at most ``WATERMARK_LOCK_TIMEOUT_MS``, else
    :class:`WatermarksBusy`), so no row can appear below the watermarks later. SQLite has one
    writer at a time, so its committed maximum is final.
    """
    try:
        with transaction.atomic():
            if connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    cursor.execute(f"SET LOCAL lock_timeout = {WATERMARK_LOCK_TIMEOUT_MS}")
                    tables = f"{Battle._meta.db_table}, {PairCount._meta.db_table}"
                    cursor.execute(f"LOCK TABLE {tables} IN SHARE MODE")
            battle_max = Battle.objects.aggregate(m=Max("id"))["m"] or 0
            pair_max = PairCount.objects.aggregate(m=Max("id"))["m"] or 0
    except OperationalError as exc:
        if getattr(exc.__cause__, "sqlstate", None) == "55P03":  # lock_not_available
            raise WatermarksBusy(
                "battles are being written in a long transaction (an import)"
            ) from exc
        raise
    return battle_max, pair_max


def private_competitor_ids() -> list[int]:
    """Competitors that never appear on public boards or exports."""
    return sorted(
        Competitor.objects.filter(visibility=Competitor.Visibility.PRIVATE).values_list(
            "id", flat=True
        )
    )


def scope_battles(inputs: dict[str, Any]) -> QuerySet[Battle]:
    """The Battle rows a snapshot's ``inputs`` name (the one selection the build and the
    export share)."""
    private = inputs["excluded_competitors"]
    qs = (
        Battle.objects.filter(
            _scope_filter(inputs["source"], inputs["category"]), id__lte=inputs["battles_upto"]
        )
        .exclude(model_a_id__in=private)
        .exclude(model_b_id__in=private)
    )
    if inputs.get("conv_metadata_only"):  # the style-controlled board (arena.services.style_board)
        qs = qs.filter(conv_metadata__isnull=False)
    return qs


def scope_pair_counts(inputs: dict[str, Any]) -> QuerySet[PairCount]:
    """The PairCount rows a snapshot's ``inputs`` name (none when it used no pair counts)."""
    if inputs.get("pair_counts_upto") is None:
        return PairCount.objects.none()
    private = inputs["excluded_competitors"]
    qs = PairCount.objects.filter(id__lte=inputs["pair_counts_upto"])
    if inputs["category"] != ALL_CATEGORIES:
        qs = qs.filter(category=inputs["category"])
    return qs.exclude(model_a_id__in=private).exclude(model_b_id__in=private)


@dataclass(frozen=True)
class BattleRows:
    """Individual battle rows as arrays (competitor ids, outcome codes, seconds), read a chunk
    at a time (:func:`battle_rows`): memory grows by 25 bytes a battle, not by a Python tuple
    each. ``first`` and ``last`` are the first and last rows as read (``None``: no row)."""

    a: NDArray[np.int64]
    b: NDArray[np.int64]
    outcome: NDArray[np.int8]
    tstamp: NDArray[np.float64]
    first: tuple[Any, ...] | None
    last: tuple[Any, ...] | None

    def __len__(self) -> int:
        return len(self.a)


#: Rows converted per step by :func:`battle_rows`.
ROW_CHUNK = 20_000


def battle_rows(
    rows: Iterable[tuple[Any, ...]],
    *,
    each: Callable[[list[tuple[Any, ...]]], None] | None = None,
) -> BattleRows:
    """``rows`` (a, b, outcome, tstamp, ...: a list or a streaming queryset iterator) as
    :class:`BattleRows`, converted :data:`ROW_CHUNK` rows at a time; ``each`` is given every
    chunk too (to keep what else the rows carry in a compact form)."""
    parts: list[tuple[np.ndarray, ...]] = []
    first = last = None
    stream = iter(rows)
    while chunk := list(itertools.islice(stream, ROW_CHUNK)):
        first = first or chunk[0]
        last = chunk[-1]
        if each is not None:
            each(chunk)
        parts.append(
            (
                np.array([r[0] for r in chunk], dtype=np.int64),
                np.array([r[1] for r in chunk], dtype=np.int64),
                np.array([_OUTCOME_CODE[r[2]] for r in chunk], dtype=np.int8),
                np.array([r[3].timestamp() for r in chunk], dtype=np.float64),
            )
        )
    if not parts:
        empty = np.zeros(0, dtype=np.int64)
        return BattleRows(empty, empty, np.zeros(0, np.int8), np.zeros(0), None, None)
    a, b, outcome, tstamp = (np.concatenate(column) for column in zip(*parts, strict=True))
    return BattleRows(a, b, outcome, tstamp, first, last)


def _build(
    rows: list[tuple[Any, ...]] | BattleRows,
    count_rows: list[tuple[int, int, int, int, int]] | np.ndarray,
    *,
    names: dict[int, str] | None = None,
) -> tuple[Battles, list[int]]:
    """``rows`` (individual battles: a, b, outcome, tstamp; or :class:`BattleRows`) then
    ``count_rows`` (pair counts: a, b, wins_a, wins_b, ties; each non-zero count one weighted
    entry, in that order) as :class:`ranking.battles.Battles`, models in name order; returns
    it and the competitor ids."""
    arrays = rows if isinstance(rows, BattleRows) else battle_rows(rows)
    counts = np.asarray(count_rows, dtype=np.int64).reshape(-1, 5)
    known = np.unique(np.concatenate([arrays.a, arrays.b, counts[:, :2].ravel()]))
    # every competitor's name (a few hundred rows at most): cheaper to send and parse than a
    # query listing the scope's hundreds of ids; read once per rebuild when given
    if names is None:
        names = competitor_names()
    # models in name order, as the battle-file reader codes them: the CLI on an export then
    # runs the same arithmetic and gives the same numbers to the last digits
    ids = sorted(known.tolist(), key=names.__getitem__)
    index = {cid: i for i, cid in enumerate(ids)}
    code_of = np.array([index[cid] for cid in known.tolist()], dtype=np.int32)

    def code(column: np.ndarray) -> NDArray[np.int32]:
        return code_of[np.searchsorted(known, column)]

    a, b, outcome = code(arrays.a), code(arrays.b), arrays.outcome
    weight = None
    if len(counts):
        ca, cb = code(counts[:, 0]), code(counts[:, 1])
        # per pair row: its A_WINS, B_WINS and TIE entries in that order, zero counts dropped
        w = counts[:, 2:5].ravel()
        keep = w > 0
        codes = np.tile(np.array([A_WINS, B_WINS, TIE], dtype=np.int8), len(counts))[keep]
        a = np.concatenate([a, np.repeat(ca, 3)[keep]])
        b = np.concatenate([b, np.repeat(cb, 3)[keep]])
        outcome = np.concatenate([outcome, codes])
        weight = np.concatenate([np.ones(len(arrays)), w[keep].astype(np.float64)])
    tstamp = arrays.tstamp if len(arrays) and not len(counts) else None
    battles = Battles(
        models=tuple(names[cid] for cid in ids),
        a=a,
        b=b,
        outcome=outcome,
        tstamp=tstamp,
        weight=weight,
    )
    return battles, ids


def competitor_names() -> dict[int, str]:
    """Every competitor's name by id."""
    return dict(Competitor.objects.values_list("id", "name"))


def battle_data_load(
    *,
    source: str = "combined",
    category: str = ALL_CATEGORIES,
    ordered: bool = False,
    watermarks: tuple[int, int] | None = None,
) -> BattleData:
    """Load the battles of a public scope as a :class:`ranking.battles.Battles` (pair counts
    weighted), one entry per stored Battle row: the battle-level path (O(battles)), which the
    rebuild no longer takes; the aggregate path is tested against it.

    Battles of private competitors are left out. ``ordered`` loads only individual battles
    (for online methods) and records the imported pair counts it leaves out.

    The returned ``inputs`` name the rows exactly: ``source``, ``category``, ``battles_upto``
    (the largest Battle id used), ``pair_counts_upto`` (the largest PairCount id used, or
    ``None`` when pair counts are not used), ``excluded_competitors`` (private ids) and
    ``excluded_pair_counts`` (``{"rows", "battles"}`` left out by an ordered load).
    """
    selection, rows, pair_rows = _scope_rows(
        source=source, category=category, watermarks=watermarks
    )
    return _battle_data(selection, rows, pair_rows, ordered=ordered)


def _selection(*, source: str, category: str, watermarks: tuple[int, int] | None) -> dict[str, Any]:
    """Exactly which stored battles a scope's board reads (``snapshot.inputs`` starts here)."""
    battle_max, pair_max = watermarks if watermarks is not None else _watermarks()
    return {
        "source": source,
        "category": category,
        "battles_upto": battle_max,
        "pair_counts_upto": pair_max if uses_pair_counts(source) else None,
        "excluded_competitors": private_competitor_ids(),
    }


def _scope_rows(
    *, source: str, category: str, watermarks: tuple[int, int] | None
) -> tuple[dict[str, Any], list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    selection = _selection(source=source, category=category, watermarks=watermarks)
    rows = list(
        scope_battles(selection)
        .order_by("tstamp", "id")
        .values_list("model_a_id", "model_b_id", "outcome", "tstamp", "id")
    )
    pair_rows = list(
        scope_pair_counts(selection).values_list(
            "model_a_id", "model_b_id", "wins_a", "wins_b", "ties", "id"
        )
    )
    return selection, rows, pair_rows


def _battle_data(
    selection: dict[str, Any],
    rows: list[tuple[Any, ...]],
    pair_rows: list[tuple[Any, ...]],
    *,
    ordered: bool,
) -> BattleData:
    excluded = {"rows": 0, "battles": 0}
    if ordered and pair_rows:
        excluded = {"rows": len(pair_rows), "battles": sum(r[2] + r[3] + r[4] for r in pair_rows)}
        pair_rows = []
    battles, ids = _build(rows, [r[:5] for r in pair_rows])
    used_pairs = selection["pair_counts_upto"] is not None and not ordered
    inputs = {
        **selection,
        "battles_upto": max((r[4] for r in rows), default=0),
        "pair_counts_upto": max((r[5] for r in pair_rows), default=0) if used_pairs else None,
        "excluded_pair_counts": excluded,
    }
    return BattleData(battles=battles, competitor_ids=ids, n_records=len(rows), inputs=inputs)


#: Boards built by a module of their own, by name: ``rebuild(*, source, category, selection,
#: withdrawn, rule, force) -> LeaderboardSnapshot | None``, run after the registered methods of
#: each scope. Registered at start-up by ``arena.apps`` (the style-controlled board).
BOARD_EXTENSIONS: dict[str, Callable[..., LeaderboardSnapshot | None]] = {}


def leaderboard_board_register(
    name: str, rebuild: Callable[..., LeaderboardSnapshot | None]
) -> None:
    """Compute the board ``name`` with ``rebuild`` in every scope's rebuild."""
    BOARD_EXTENSIONS[name] = rebuild


def leaderboard_methods() -> tuple[str, ...]:
    """The names of the boards computed for every scope, in the order they are listed."""
    return (*_method_registry(), *BOARD_EXTENSIONS)


def _method_registry() -> dict[str, MethodSpec]:
    """Methods computed for every scope (see :class:`MethodSpec`)."""
    from ranking.alpharank import alpharank_rating
    from ranking.bradley_terry import bradley_terry
    from ranking.elo import elo
    from ranking.openskill import openskill_rate
    from ranking.simulate import expected_score_rating
    from ranking.winrate import average_win_rate

    return {
        "bt": MethodSpec(
            {"scale": 400.0, "base": 10.0, "init": 1000.0, "ci": "profile", "confidence": 0.95},
            bradley_terry,
            interval="95% profile-likelihood (likelihood-ratio) interval of the rating relative "
            "to the mean of the main group; a side with no finite bound is shown as unbounded",
            point_params={"bounds": False},
        ),
        "bt_pair_frequency": MethodSpec(
            {
                "scale": 400.0,
                "base": 10.0,
                "init": 1000.0,
                "ci": "profile",
                "confidence": 0.95,
                "reweight": "pair_frequency",
            },
            bradley_terry,
            interval="95% profile-likelihood interval as on the Bradley-Terry board, on the "
            "likelihood with each battle weighted by N / (P · n_pair) (every pair that met "
            "carries the same total weight), the threshold scaled by the weights' design effect",
            point_params={"bounds": False},
        ),
        "elo": MethodSpec(
            {
                "k": 4.0,
                "scale": 400.0,
                "base": 10.0,
                "init": 1000.0,
                "ci": "bootstrap",
                "rounds": 100,
                "confidence": 0.95,
                "rng": 0,
            },
            elo,
            ordered=True,
            slow=True,
            interval="95% percentile bootstrap over resampled battles replayed in draw order "
            "(as FastChat), widened to contain the chronological Elo; it describes the Elo "
            "number, not true strength",
        ),
        "openskill": MethodSpec(
            {"model": "plackett-luce", "confidence": 0.95},
            openskill_rate,
            ordered=True,
            interval="μ ± 1.96σ of the OpenSkill posterior (a Bayesian credible band, not a "
            "calibrated confidence interval)",
        ),
        "winrate": MethodSpec(
            {"confidence": 0.95},
            average_win_rate,
            interval="95% Wilson score interval of the average win rate over opponents "
            "(ties count ½)",
        ),
        "alpharank": MethodSpec(
            {"alpha": 100.0, "population_size": 50, "rounds": 100, "confidence": 0.95, "rng": 0},
            alpharank_rating,
            slow=True,
            interval="95% percentile bootstrap of the stationary mass over resampled battles",
        ),
        "expected_score": MethodSpec(
            {
                "format": "swiss",
                "iterations": 20000,
                "draws": 50,
                "confidence": 0.95,
                "l2": 1.0,
                "rng": 0,
            },
            expected_score_rating,
            slow=True,
            interval="95% bootstrap interval: ratings refitted on resampled battles and "
            "tournaments simulated for each refit (rating uncertainty and Monte Carlo error)",
        ),
    }


def _battle_counts(battles: Battles) -> np.ndarray:
    w = np.ones(len(battles)) if battles.weight is None else battles.weight
    counts = np.bincount(battles.a, weights=w, minlength=battles.n_models)
    counts += np.bincount(battles.b, weights=w, minlength=battles.n_models)
    return np.rint(counts).astype(np.int64)


def _win_rates(battles: Battles) -> np.ndarray:
    wins, ties = battles.pair_counts()
    played = wins.sum(axis=1) + wins.sum(axis=0) + ties.sum(axis=1)
    score = wins.sum(axis=1) + 0.5 * ties.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(played > 0, score / np.maximum(played, 1e-300), np.nan)


def listing_rule() -> dict[str, int]:
    """The listing rule of the boards (``LUDUS_LISTING_MIN_BATTLES``/``_MIN_OPPONENTS``)."""
    return {
        "min_battles": settings.LUDUS_LISTING_MIN_BATTLES,
        "min_opponents": settings.LUDUS_LISTING_MIN_OPPONENTS,
    }


def _opponents(battles: Battles) -> np.ndarray:
    n = battles.n_models
    w = np.ones(len(battles)) if battles.weight is None else battles.weight
    met = np.zeros((n, n), dtype=bool)
    keep = w > 0
    met[battles.a[keep], battles.b[keep]] = True
    met |= met.T
    return met.sum(axis=1).astype(np.int64)


#: Row sections, in the order the board lists them.
SECTIONS: tuple[str, ...] = ("ranked", "provisional", "separate")


def _data_stats(data: BattleData) -> dict[str, np.ndarray]:
    """Per-model statistics of ``data`` shown on every board, computed once per scope."""
    if not data.stats:
        data.stats.update(
            win_rate=_win_rates(data.battles),
            component=components(data.battles),
            counts=_battle_counts(data.battles),
            opponents=_opponents(data.battles),
        )
    return data.stats


def _rows(
    result: RatingResult, data: BattleData, *, rule: dict[str, int], withdrawn: set[int]
) -> list[dict[str, Any]]:
    """The snapshot rows: ``result``'s, with the listing and comparison flags and Rank(UB).

    Only established models of the main component (0: the largest connected group) are ranked:
    ``rank`` is 1 + the number of them whose lower bound is above this model's upper bound
    (a null bound is unbounded), or the ordinal rank among them when the method gives no
    interval. Provisional models (below the listing rule) and models of other components get
    ``rank: null`` and their own ``section``.
    """
    battles = data.battles
    by_name = {name: i for i, name in enumerate(battles.models)}
    stats = _data_stats(data)
    win_rate, component = stats["win_rate"], stats["component"]
    counts, opponents = stats["counts"], stats["opponents"]
    rows = result.to_rows()
    for row in rows:
        i = by_name[row["model"]]
        cid = data.competitor_ids[i]
        row["competitor_id"] = cid
        row["win_rate"] = None if np.isnan(win_rate[i]) else float(win_rate[i])
        row["battles"] = int(counts[i])
        row["opponents"] = int(opponents[i])
        row["component"] = int(component[i])
        row["provisional"] = bool(
            counts[i] < rule["min_battles"] or opponents[i] < rule["min_opponents"]
        )
        row["withdrawn"] = cid in withdrawn
        row["section"] = (
            "separate" if component[i] != 0 else "provisional" if row["provisional"] else "ranked"
        )
    ranked = [r for r in rows if r["section"] == "ranked"]
    has_interval = result.lower is not None or result.upper is not None
    lows = np.array([-np.inf if r["lower"] is None else r["lower"] for r in ranked])
    ratings = np.array([r["rating"] for r in ranked])
    for row in rows:
        if row["section"] != "ranked":
            row["rank"] = None
        elif has_interval:
            upper = np.inf if row["upper"] is None else row["upper"]
            row["rank"] = 1 + int((lows > upper).sum())
        else:
            row["rank"] = 1 + int((ratings > row["rating"]).sum())
    order = {name: k for k, name in enumerate(SECTIONS)}
    rows.sort(key=lambda r: (order[r["section"]], r["component"], -r["rating"], r["model"]))
    return rows


def board_from_outcomes(
    *, rows: list[tuple[int, int, str, datetime]], method: str = "bt"
) -> dict[str, Any]:
    """A board of outcomes that are not Battles (a judge run's), computed as a published one.

    ``rows`` are ``(competitor_a_id, competitor_b_id, outcome, tstamp)``; the method, its
    parameters, the rows' flags and Rank(UB) are exactly those of the scope boards
    (:func:`leaderboard_rebuild`), so the two can be compared row by row.
    """
    spec = _method_registry()[method]
    battles, ids = _build(rows, [])
    data = BattleData(battles=battles, competitor_ids=ids, n_records=len(rows), inputs={})
    rule = listing_rule()
    board: dict[str, Any] = {
        "method": method,
        "params": spec.params,
        "interval": spec.interval,
        "listing": rule,
        "n_battles": len(rows),
        "ratings": [],
    }
    if not rows:
        return board
    withdrawn = set(
        Competitor.objects.filter(status=Competitor.Status.WITHDRAWN).values_list("id", flat=True)
    )
    result = spec.fn(battles, **spec.params)
    board["ratings"] = _rows(result, data, rule=rule, withdrawn=withdrawn)
    return board


def snapshot_to_dict(snapshot: LeaderboardSnapshot) -> dict[str, Any]:
    """The snapshot as served (cached once, read by page and API), with the arena's sampling
    flags computed here rather than on every read (:func:`leaderboard_sampling_add`)."""
    return leaderboard_sampling_add(
        {
            "id": snapshot.id,
            "method": snapshot.method,
            "source": snapshot.source,
            "category": snapshot.category,
            "version": snapshot.version,
            "data_version": snapshot.data_version,
            "params": snapshot.params,
            # which private competitors were left out is for staff (the export), not the public
            "inputs": {k: v for k, v in snapshot.inputs.items() if k != "excluded_competitors"},
            "board": snapshot.board,
            "n_battles": snapshot.n_battles,
            "n_models": snapshot.n_models,
            "compute_ms": snapshot.compute_ms,
            "created_at": snapshot.created_at.isoformat(),
            "ratings": snapshot.ratings,
        }
    )


def latest_snapshot(*, method: str, source: str, category: str) -> LeaderboardSnapshot | None:
    """A board's latest snapshot, without its ratings (loaded only if that version is served
    again)."""
    return (
        LeaderboardSnapshot.objects.filter(method=method, source=source, category=category)
        .defer("ratings")
        .order_by("-version")
        .first()
    )


def snapshot_unchanged(
    *,
    method: str,
    source: str,
    category: str,
    data_version: str,
    params: dict[str, Any],
    force: bool = False,
) -> LeaderboardSnapshot | None:
    """The scope's latest snapshot, cached again, when its data and parameters are these.

    ``None`` (compute a new one) when there is none, it differs, or ``force``.
    """
    if force:
        return None
    latest = latest_snapshot(method=method, source=source, category=category)
    if latest is None or latest.data_version != data_version or latest.params != params:
        return None
    snapshot_cache(latest)
    return latest


def snapshot_publish(
    *,
    method: str,
    source: str,
    category: str,
    data_version: str,
    params: dict[str, Any],
    ratings: list[dict[str, Any]],
    n_battles: int,
    compute_ms: int,
    inputs: dict[str, Any] | None = None,
    board: dict[str, Any] | None = None,
    force: bool = False,
) -> LeaderboardSnapshot:
    """Store a new snapshot version unless the latest one has the same data and parameters."""
    latest = latest_snapshot(method=method, source=source, category=category)
    if latest and not force and latest.data_version == data_version and latest.params == params:
        snapshot_cache(latest)
        return latest
    return _snapshot_insert(
        latest=latest,
        method=method,
        source=source,
        category=category,
        data_version=data_version,
        params=params,
        inputs=inputs or {},
        board=board or {},
        ratings=ratings,
        n_battles=n_battles,
        compute_ms=compute_ms,
    )


def _snapshot_insert(
    *,
    latest: LeaderboardSnapshot | None,
    method: str,
    source: str,
    category: str,
    data_version: str,
    params: dict[str, Any],
    inputs: dict[str, Any],
    board: dict[str, Any],
    ratings: list[dict[str, Any]],
    n_battles: int,
    compute_ms: int,
    publish: bool = True,
) -> LeaderboardSnapshot:
    """Insert the version after ``latest`` (the scope's latest snapshot, read by the caller);
    ``publish=False`` leaves publishing it to the cache to the caller (after its commit)."""
    for _ in range(3):  # two rebuilders racing: the unique constraint decides, the loser retries
        version = (latest.version if latest else 0) + 1
        try:
            with transaction.atomic():
                snapshot = LeaderboardSnapshot.objects.create(
                    method=method,
                    source=source,
                    category=category,
                    version=version,
                    data_version=data_version,
                    params=params,
                    inputs=inputs,
                    board=board,
                    ratings=ratings,
                    n_battles=n_battles,
                    n_models=len(ratings),
                    compute_ms=compute_ms,
                )
            break
        except IntegrityError:
            latest = latest_snapshot(method=method, source=source, category=category)
    else:  # pragma: no cover
        raise RuntimeError("could not allocate a snapshot version")
    if publish:
        snapshot_cache(snapshot)
    return snapshot


def _data_version(inputs: dict[str, Any], board: dict[str, Any], withdrawn: set[int]) -> str:
    fingerprint = json.dumps([inputs, board, sorted(withdrawn)], sort_keys=True, default=str)
    return hashlib.sha256(fingerprint.encode()).hexdigest()[:16]


def _aggregate_data(
    selection: dict[str, Any],
    pairs: np.ndarray,
    pair_rows: list[tuple[Any, ...]],
    *,
    ordered: bool,
    names: dict[int, str],
) -> BattleData:
    """A scope's data from its pair aggregates (rows of :func:`aggregate_rows`) and pair counts
    (unless ``ordered``): O(pairs).

    The same battles as :func:`battle_data_load` gives, as weighted (pair, outcome) entries;
    every method computed from them depends on the pair counts only.
    """
    excluded = {"rows": 0, "battles": 0}
    if ordered and pair_rows:
        excluded = {"rows": len(pair_rows), "battles": sum(r[2] + r[3] + r[4] for r in pair_rows)}
        pair_rows = []
    counts = np.concatenate(
        [pairs[:, :5], np.array([r[:5] for r in pair_rows], dtype=np.int64).reshape(-1, 5)]
    )
    battles, ids = _build([], counts, names=names)
    used_pairs = selection["pair_counts_upto"] is not None and not ordered
    inputs = {
        **selection,
        "battles_upto": int(pairs[:, 5].max()) if len(pairs) else 0,
        "pair_counts_upto": max((r[5] for r in pair_rows), default=0) if used_pairs else None,
        "excluded_pair_counts": excluded,
    }
    n_records = int(pairs[:, 2:5].sum())
    return BattleData(battles=battles, competitor_ids=ids, n_records=n_records, inputs=inputs)


def _age_seconds(stamp: str | None, now: datetime) -> float:
    if not stamp:
        return float("inf")
    return (now - datetime.fromisoformat(stamp)).total_seconds()


def slow_part_due(
    *, computed_at: str | None, seconds: float, slow_seconds: float, now: datetime
) -> bool:
    """Whether a slow part last computed at ``computed_at`` (ISO time; ``None``: never), which
    took ``seconds``, is due again: when older than ``slow_seconds`` and than ``seconds /
    LUDUS_LEADERBOARD_SLOW_SHARE``, so that refreshing any one slow part takes at most that
    share of a worker's time however large the data grows (an α-Rank bootstrap of a second
    every five minutes; an Elo bootstrap over 10M battles every hour or so). ``slow_seconds``
    0: always due."""
    if slow_seconds <= 0:
        return True
    cadence = max(slow_seconds, seconds / settings.LUDUS_LEADERBOARD_SLOW_SHARE)
    return _age_seconds(computed_at, now) >= cadence


def _state_save(
    state: LeaderboardState | None, scope: dict[str, Any], values: dict[str, Any]
) -> None:
    """Store a scope's state: one UPDATE of the row read before (the last writer wins, as
    with two rebuilds of the same data), or a new row."""
    if state is not None and LeaderboardState.objects.filter(pk=state.pk).update(**values):
        return
    LeaderboardState.objects.update_or_create(**scope, defaults=values)


def _online_state(
    *,
    method: str,
    spec: MethodSpec,
    data: BattleData,
    selection: dict[str, Any],
    slow_due: bool,
    now: datetime,
    state: LeaderboardState | None,
    names: dict[int, str],
    save: Callable[[LeaderboardState | None, dict[str, Any], dict[str, Any]], None],
) -> tuple[RatingResult, dict[str, Any]]:
    """An online method's result for ``data``: its stored state continued with the newer
    battles, or recomputed from all of them when a new battle sorts before the state's last
    one (an import of history), the parameters or the private competitors changed, or the
    slow part (Elo's bootstrap interval) is due. Returns the result and its freshness."""
    scope = {"method": method, "source": selection["source"], "category": selection["category"]}
    upto = data.inputs["battles_upto"]
    battles_qs = scope_battles({**selection, "battles_upto": upto}).order_by("tstamp", "id")
    columns = ("model_a_id", "model_b_id", "outcome", "tstamp", "id")
    resume = (
        state is not None
        and state.params == spec.params
        and state.excluded_competitors == selection["excluded_competitors"]
        and state.battles_upto <= upto
        and not (slow_due and spec.slow)
    )
    # streamed into arrays: a replay over 10M battles holds 250 MB of them, not 10M tuples
    rows = battle_rows([])
    if resume:
        assert state is not None
        tail = battles_qs.filter(id__gt=state.battles_upto).values_list(*columns)
        rows = battle_rows(tail.iterator(chunk_size=ROW_CHUNK))
        first = rows.first
        if first is not None and state.last_tstamp is not None and first[3] < state.last_tstamp:
            resume = False  # a battle older than the state's last one: replay the history
    if not resume:
        rows = battle_rows(battles_qs.values_list(*columns).iterator(chunk_size=ROW_CHUNK))
    previous: dict[str, Any] = dict(state.ratings) if (resume and state is not None) else {}
    battles, ids = _build(rows, [], names=names)
    last = rows.last
    del rows  # its id columns (16 bytes a battle) are not needed once coded
    battles = battles.with_models(sorted({names[int(c)] for c in previous} | set(battles.models)))
    by_name = {name: cid for cid, name in names.items()}
    initial = {names[int(c)]: v for c, v in previous.items()}
    params = dict(spec.params)
    interval = dict(state.interval) if state is not None else {}
    if method == "elo":
        if resume or not slow_due:
            params["ci"] = "none"
        started = time.perf_counter()
        result = spec.fn(battles, **params, **({"initial": initial} if initial else {}))
        ratings: dict[str, Any] = {
            str(by_name[n]): float(v) for n, v in zip(battles.models, result.rating)
        }
        if params["ci"] != "none":
            assert result.lower is not None and result.upper is not None
            interval = {
                "computed_at": now.isoformat(),
                "seconds": time.perf_counter() - started,
                "battles_upto": upto,
                "n_battles": battles.n_battles,
                "bounds": {
                    str(by_name[n]): [float(lo), float(hi)]
                    for n, lo, hi in zip(battles.models, result.lower, result.upper)
                },
            }
    else:
        initial_os = {n: (v[0], v[1]) for n, v in initial.items()}
        result = spec.fn(battles, **params, **({"initial": initial_os} if initial_os else {}))
        ratings = {
            str(by_name[n]): [float(m), float(s)]
            for n, m, s in zip(battles.models, result.extra["mu"], result.extra["sigma"])
        }
        interval = {
            "computed_at": now.isoformat(),
            "battles_upto": upto,
            "n_battles": battles.n_battles,
        }
    save(
        state,
        scope,
        {
            "params": spec.params,
            "excluded_competitors": selection["excluded_competitors"],
            "battles_upto": upto,
            "last_tstamp": last[3] if last else (state.last_tstamp if resume and state else None),
            "last_id": last[4] if last else (state.last_id if resume and state else 0),
            "ratings": ratings,
            "interval": interval,
            "updated_at": now,
        },
    )
    return _online_result(
        method=method, result=result, data=data, ratings=ratings, interval=interval
    )


def _online_result(
    *,
    method: str,
    result: RatingResult,
    data: BattleData,
    ratings: dict[str, Any],
    interval: dict[str, Any],
) -> tuple[RatingResult, dict[str, Any]]:
    """The board's result over ``data``'s models from a stored state (one construction for a
    continued and a recomputed state, so the two agree to the last digit)."""
    cids = [str(c) for c in data.competitor_ids]
    if method == "elo":
        init = float(result.params["init"])
        rating = np.array([ratings.get(c, init) for c in cids], dtype=np.float64)
        bounds = interval.get("bounds", {})
        lower = np.array([bounds.get(c, [-np.inf])[0] for c in cids], dtype=np.float64)
        upper = np.array([bounds.get(c, [0.0, np.inf])[1] for c in cids], dtype=np.float64)
        # a rating that moved since the bootstrap is never shown outside its interval
        lower, upper = np.minimum(lower, rating), np.maximum(upper, rating)
        extra: dict[str, Any] = {}
    else:
        mu = np.array([ratings[c][0] for c in cids], dtype=np.float64)
        sigma = np.array([ratings[c][1] for c in cids], dtype=np.float64)
        z = float(result.params["z"])
        rating, lower, upper = mu, mu - z * sigma, mu + z * sigma
        extra = {
            "mu": mu,
            "sigma": sigma,
            "ordinal": mu - float(result.params["ordinal_z"]) * sigma,
        }
    board_result = RatingResult(
        method=result.method,
        params=result.params,
        models=list(data.battles.models),
        rating=rating,
        lower=lower,
        upper=upper,
        battles=data.battles.battles_per_model(),
        component=_data_stats(data)["component"],
        n_battles=data.battles.n_battles,
        extra=extra,
    )
    freshness = {
        "interval_computed_at": interval.get("computed_at"),
        "interval_battles_upto": interval.get("battles_upto"),
        "interval_n_battles": interval.get("n_battles"),
    }
    return board_result, freshness


def _interval_reusable(
    state: LeaderboardState | None, spec: MethodSpec, selection: dict[str, Any]
) -> bool:
    """Whether ``state`` holds an interval of this method's parameters over the same public
    competitors (otherwise it cannot be shown with new ratings)."""
    return (
        state is not None
        and state.params == spec.params
        and state.excluded_competitors == selection["excluded_competitors"]
        and "bounds" in state.interval
    )


def _interval_kept(
    *,
    method: str,
    spec: MethodSpec,
    data: BattleData,
    selection: dict[str, Any],
    state: LeaderboardState | None,
    stored: LeaderboardState | None,
    now: datetime,
    save: Callable[[LeaderboardState | None, dict[str, Any], dict[str, Any]], None],
) -> tuple[RatingResult, dict[str, Any]]:
    """A method whose interval is its slow part (``MethodSpec.point_params``): with ``state``
    (a reusable interval, not due), the ratings computed afresh with ``point_params`` and the
    stored interval, widened to contain them (a model new since has an unbounded one);
    without, the full computation, whose interval is stored. Returns the result and its
    freshness."""
    assert spec.point_params is not None
    if state is None:
        started = time.perf_counter()
        result = spec.fn(data.battles, **spec.params)
        assert result.lower is not None and result.upper is not None
        by_name = dict(zip(data.battles.models, data.competitor_ids, strict=True))

        def finite(x: float) -> float | None:
            return float(x) if np.isfinite(x) else None

        interval: dict[str, Any] = {
            "computed_at": now.isoformat(),
            "seconds": time.perf_counter() - started,
            "battles_upto": data.inputs["battles_upto"],
            "n_battles": data.battles.n_battles,
            "bounds": {
                str(by_name[n]): [finite(lo), finite(hi)]
                for n, lo, hi in zip(result.models, result.lower, result.upper, strict=True)
            },
        }
        scope = {"method": method, "source": selection["source"], "category": selection["category"]}
        save(
            stored,
            scope,
            {
                "params": spec.params,
                "excluded_competitors": selection["excluded_competitors"],
                "battles_upto": data.inputs["battles_upto"],
                "ratings": {},
                "interval": interval,
                "updated_at": now,
            },
        )
    else:
        interval = state.interval
        result = spec.fn(data.battles, **spec.params, **spec.point_params)
        by_model = dict(zip(data.battles.models, data.competitor_ids, strict=True))
        kept = [interval["bounds"].get(str(by_model[n]), [None, None]) for n in result.models]
        lower = np.array([-np.inf if lo is None else lo for lo, _ in kept], dtype=np.float64)
        upper = np.array([np.inf if hi is None else hi for _, hi in kept], dtype=np.float64)
        # a rating that moved since the interval was computed is never shown outside it
        lower, upper = np.minimum(lower, result.rating), np.maximum(upper, result.rating)
        result = replace(result, lower=lower, upper=upper)
    return result, {
        "interval_computed_at": interval["computed_at"],
        "interval_battles_upto": interval["battles_upto"],
        "interval_n_battles": interval["n_battles"],
    }


def leaderboard_rebuild(
    *,
    source: str = "combined",
    category: str = ALL_CATEGORIES,
    methods: Iterable[str] | None = None,
    force: bool = False,
    watermarks: tuple[int, int] | None = None,
    slow_seconds: float = 0.0,
) -> list[LeaderboardSnapshot]:
    """Recompute the snapshots of one scope for the given methods (all registered by default).

    Every method sees the same committed battles (one pair of watermarks, taken here unless
    given), read as pair aggregates (O(pairs)); an online method (``MethodSpec.ordered``)
    continues its stored state with the newer battles, leaves the imported pair counts out and
    its snapshot says how many. A slow method (``MethodSpec.slow``) whose last computation is
    younger than ``slow_seconds`` keeps its snapshot (Elo: its bootstrap interval, widened to
    contain the current rating), and so does the interval of a method with
    ``MethodSpec.point_params`` (Bradley-Terry's profile bounds; its ratings are new); every
    snapshot's ``board["freshness"]`` says when each part was computed and from which
    battles (``interval_battles_upto``, ``interval_n_battles``).
    """
    registry = _method_registry()
    wanted = list(registry) if methods is None else [m for m in methods if m in registry]
    battle_max, pair_max = watermarks if watermarks is not None else _watermarks()
    aggregates_advance(battles_upto=battle_max, pair_counts_upto=pair_max)
    selection = _selection(source=source, category=category, watermarks=(battle_max, pair_max))
    pairs = aggregate_rows(
        source=source,
        category=category,
        excluded=selection["excluded_competitors"],
        all_categories=ALL_CATEGORIES,
    )
    pair_rows = list(
        scope_pair_counts(selection).values_list(
            "model_a_id", "model_b_id", "wins_a", "wins_b", "ties", "id"
        )
    )
    withdrawn = set(
        Competitor.objects.filter(status=Competitor.Status.WITHDRAWN).values_list("id", flat=True)
    )
    rule = listing_rule()
    now = timezone.now()
    names = competitor_names()
    # every method's stored state in this scope (online methods, kept intervals): one query
    states = {
        row.method: row for row in LeaderboardState.objects.filter(source=source, category=category)
    }
    loaded: dict[bool, BattleData] = {}
    snapshots = []
    # every method's latest snapshot in this scope (without its ratings, loaded only if that
    # version is served again): one query
    newest = LeaderboardSnapshot.objects.filter(
        method=OuterRef("method"), source=source, category=category
    ).order_by("-version")
    latest_of = {
        snap.method: snap
        for snap in LeaderboardSnapshot.objects.filter(
            source=source,
            category=category,
            method__in=wanted,
            version=Subquery(newest.values("version")[:1]),
        ).defer("ratings")
    }
    # the scope's writes (states, then new snapshots) wait until every method is computed, then
    # go in one short transaction: one commit, and no lock held while a slow part computes
    state_writes: list[Callable[[], None]] = []
    inserts: list[Callable[[], LeaderboardSnapshot]] = []

    def save_later(
        state: LeaderboardState | None, scope: dict[str, Any], values: dict[str, Any]
    ) -> None:
        state_writes.append(functools.partial(_state_save, state, scope, values))

    for method in wanted:
        spec = registry[method]
        if spec.ordered not in loaded:
            loaded[spec.ordered] = _aggregate_data(
                selection, pairs, pair_rows, ordered=spec.ordered, names=names
            )
        data = loaded[spec.ordered]
        if len(data.battles) == 0:
            continue
        board = {"interval": spec.interval, "listing": rule}
        latest = latest_of.get(method)
        inputs = data.inputs
        slow_due = True
        # the interval is kept per scope (LeaderboardState) by online methods and by those
        # whose interval alone is slow
        kept = spec.ordered or spec.point_params is not None
        state = None
        if (spec.slow or spec.point_params is not None) and not force and slow_seconds > 0:
            if kept:
                state = states.get(method)
                if spec.point_params is not None and not _interval_reusable(state, spec, selection):
                    state = None
                stamp = state.interval.get("computed_at") if state is not None else None
                took = state.interval.get("seconds", 0.0) if state is not None else 0.0
            else:
                stamp = latest.created_at.isoformat() if latest is not None else None
                took = latest.compute_ms / 1000 if latest is not None else 0.0
            slow_due = slow_part_due(
                computed_at=stamp, seconds=took, slow_seconds=slow_seconds, now=now
            )
            if kept and not slow_due and state is not None:
                upto = state.interval.get("battles_upto")
                if upto != inputs["battles_upto"]:
                    inputs = {**inputs, "interval_battles_upto": upto}
        data_version = _data_version(inputs, board, withdrawn)
        if (
            latest is not None
            and not force
            and latest.data_version == data_version
            and latest.params == spec.params
        ):
            # unchanged data and parameters: nothing to compute (idempotent and cheap)
            snapshot_cache(latest)
            snapshots.append(latest)
            continue
        if spec.slow and not spec.ordered and not slow_due and latest is not None:
            # not due yet: the latest snapshot stays, saying when and from which battles it was
            # computed; a later scheduled rebuild refreshes it
            snapshots.append(latest)
            continue
        started = time.perf_counter()
        freshness: dict[str, Any] = {"rating_computed_at": now.isoformat()}
        if spec.ordered:
            result, parts = _online_state(
                method=method,
                spec=spec,
                data=data,
                selection=selection,
                slow_due=slow_due,
                now=now,
                state=states.get(method),
                names=names,
                save=save_later,
            )
            freshness.update(parts)
        elif spec.point_params is not None:
            result, parts = _interval_kept(
                method=method,
                spec=spec,
                data=data,
                selection=selection,
                state=None if slow_due else state,
                stored=states.get(method),
                now=now,
                save=save_later,
            )
            freshness.update(parts)
        else:
            result = spec.fn(data.battles, **spec.params)
            freshness.update(
                interval_computed_at=now.isoformat(),
                interval_battles_upto=inputs["battles_upto"],
                interval_n_battles=data.battles.n_battles,
            )
        elapsed = int((time.perf_counter() - started) * 1000)
        inserts.append(
            functools.partial(
                _snapshot_insert,  # its latest snapshot, read above, is not this data's
                latest=latest,
                publish=False,  # cached once committed
                method=method,
                source=source,
                category=category,
                data_version=data_version,
                params=spec.params,
                inputs=inputs,
                board={**board, "freshness": freshness},
                ratings=_rows(result, data, rule=rule, withdrawn=withdrawn),
                n_battles=data.battles.n_battles,
                compute_ms=elapsed,
            )
        )
    with transaction.atomic():
        for write in state_writes:
            write()
        written = [insert() for insert in inserts]
    for new in written:  # published once committed
        snapshot_cache(new)
    order = {name: k for k, name in enumerate(wanted)}
    snapshots = sorted([*snapshots, *written], key=lambda snap: order[snap.method])
    for name, rebuild in BOARD_EXTENSIONS.items():
        # the extension boards read individual battles (O(battles)): not in a vote's rebuild
        # (``slow_seconds`` infinite), only in the periodic one, as slow parts (when due), and
        # in direct calls
        if (methods is None or name in methods) and not math.isinf(slow_seconds):
            ran = states.get(name)
            if (
                not force
                and ran is not None
                and not slow_part_due(
                    computed_at=ran.interval.get("computed_at"),
                    seconds=ran.interval.get("seconds", 0.0),
                    slow_seconds=slow_seconds,
                    now=now,
                )
            ):
                kept_snapshot = latest_snapshot(method=name, source=source, category=category)
                if kept_snapshot is not None:
                    snapshots.append(kept_snapshot)
                continue
            started = time.perf_counter()
            snapshot = rebuild(
                source=source,
                category=category,
                selection=selection,
                withdrawn=withdrawn,
                rule=rule,
                force=force,
            )
            _state_save(  # when it last ran and how long it took: its cadence
                ran,
                {"method": name, "source": source, "category": category},
                {
                    "params": {},
                    "excluded_competitors": selection["excluded_competitors"],
                    "battles_upto": selection["battles_upto"],
                    "ratings": {},
                    "interval": {
                        "computed_at": now.isoformat(),
                        "seconds": time.perf_counter() - started,
                    },
                    "updated_at": now,
                },
            )
            if snapshot is not None:
                snapshots.append(snapshot)
    return snapshots


def _scopes_of(source: str, category: str) -> set[tuple[str, str]]:
    return {
        (source, category),
        (source, ALL_CATEGORIES),
        ("combined", category),
        ("combined", ALL_CATEGORIES),
    }


def leaderboard_scopes() -> list[tuple[str, str]]:
    """Every (source, category) that has battles."""
    pairs = aggregate_scopes()
    pc_categories = set(PairCount.objects.values_list("category", flat=True).distinct())
    pairs |= {(Source.IMPORT.value, c) for c in pc_categories}
    pairs |= set(KwiseBattle.objects.values_list("source", "category").distinct())
    scopes: set[tuple[str, str]] = set()
    for source, category in pairs:
        scopes |= _scopes_of(source, category)
    return sorted(scopes)


def touched_scopes(advance: AggregateAdvance) -> list[tuple[str, str]]:
    """The scopes whose data an aggregate advance changed."""
    scopes: set[tuple[str, str]] = set()
    for source, category in advance.touched:
        scopes |= _scopes_of(source, category)
    for category in advance.pair_count_categories:
        scopes |= _scopes_of(Source.IMPORT.value, category)
    return sorted(scopes)


def leaderboard_aggregates_refresh() -> AggregateAdvance:
    """Fold the committed battles into the pair aggregates (what a rebuild does first)."""
    battle_max, pair_max = _watermarks()
    return aggregates_advance(battles_upto=battle_max, pair_counts_upto=pair_max)


#: PostgreSQL advisory lock held by the every-scope rebuild (one at a time across workers).
PERIODIC_LOCK = 0x4C75647573_01


@contextlib.contextmanager
def _single_flight() -> Iterator[bool]:
    """Yield whether this process may run the every-scope rebuild now: no other is running.

    A session-level PostgreSQL advisory lock, tried without waiting and released on exit (or
    by the server when the connection dies): a periodic rebuild that outlasts the beat period
    (slow parts over 10M battles) is not joined by the next ones, each redoing the same due
    parts and taking the worker threads that votes' rebuilds need. Elsewhere (SQLite: one
    process) always ``True``.
    """
    if connection.vendor != "postgresql":
        yield True
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [PERIODIC_LOCK])
        got = bool(cursor.fetchone()[0])
    try:
        yield got
    finally:
        if got:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [PERIODIC_LOCK])


def leaderboard_rebuild_all(*, force: bool = False, scopes: str = "all") -> dict[str, int]:
    """Rebuild every scope (``scopes="all"``) or only those with new battles (``"touched"``,
    after a vote); returns how many snapshots are current per method.

    The slow parts and the extension boards (``BOARD_EXTENSIONS``, which read individual
    battles) are refreshed only by the every-scope (periodic) rebuild, when due
    (:func:`slow_part_due`), so a vote's rebuild never waits for a simulation, a bootstrap or
    a pass over every battle. One every-scope rebuild runs at a time (:func:`_single_flight`);
    another one asked for meanwhile returns ``{}`` at once.
    """
    if scopes == "all":
        with _single_flight() as alone:
            if not alone:
                log.info("leaderboard rebuild skipped: another every-scope rebuild is running")
                return {}
            return _rebuild_scopes(force=force, scopes=scopes)
    return _rebuild_scopes(force=force, scopes=scopes)


def _rebuild_scopes(*, force: bool, scopes: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    try:
        watermarks = _watermarks()  # every board of one rebuild sees the same committed battles
    except WatermarksBusy:
        # the import schedules a rebuild when it commits; until then the boards stay as they are
        log.warning("leaderboard rebuild skipped: a long battle write is in flight")
        return {}
    advance = aggregates_advance(battles_upto=watermarks[0], pair_counts_upto=watermarks[1])
    chosen = leaderboard_scopes() if scopes == "all" else touched_scopes(advance)
    # the rebuild after a vote never pays for the slow parts (only a board's first computation)
    slow_seconds = settings.LUDUS_LEADERBOARD_SLOW_SECONDS if scopes == "all" else math.inf
    for source, category in chosen:
        try:
            for snap in leaderboard_rebuild(
                source=source,
                category=category,
                force=force,
                watermarks=watermarks,
                slow_seconds=slow_seconds,
            ):
                counts[snap.method] = counts.get(snap.method, 0) + 1
        except (
            OperationalError,
            InterfaceError,
        ):  # the database is gone: the task retries the whole rebuild
            raise
        except Exception:  # one bad scope must not stop the others; it is logged loudly
            log.exception(
                "leaderboard rebuild failed", extra={"source": source, "category": category}
            )
    cache.set("leaderboard:v1:rebuilt_at", time.time(), timeout=None)
    return counts


def leaderboard_debounce_seconds() -> int:
    return settings.LUDUS_LEADERBOARD_DEBOUNCE_SECONDS


REBUILD_PENDING_KEY = "leaderboard:v1:rebuild-pending"
REBUILD_TASK = "workers.tasks.leaderboard.rebuild_leaderboards_task"
#: Process-local: until this time (``time.time()``) a rebuild is known to be scheduled that
#: starts later, so a commit before it needs no cache round trip to be included. A hot vote
#: stream then asks the cache once per window and process instead of once per vote.
_scheduled_until: list[float] = [0.0]
#: Taken off the window's end, for clock skew between hosts and the time an enqueue takes.
_WINDOW_MARGIN_SECONDS = 1.0


def leaderboard_schedule_forget() -> None:
    """Forget what this process knows about the scheduled rebuild (tests, after clearing the
    cache)."""
    _scheduled_until[0] = 0.0


_deferred: contextvars.ContextVar[list[bool] | None] = contextvars.ContextVar(
    "ludus_rebuild_deferred", default=None
)


@contextlib.contextmanager
def leaderboard_rebuilds_deferred() -> Iterator[None]:
    """Collect rebuild requests made inside the block into one request at its end.

    For batch work in one process (a tournament run in-process, an import): without it,
    eager mode would rebuild after every single result.
    """
    if _deferred.get() is not None:  # nested: the outer block schedules
        yield
        return
    requests: list[bool] = []
    token = _deferred.set(requests)
    try:
        yield
    finally:
        _deferred.reset(token)
        if requests:
            leaderboard_schedule_rebuild()


def leaderboard_schedule_rebuild() -> bool:
    """Ask for a leaderboard rebuild soon; a burst of calls yields one rebuild.

    The request is made after the current transaction commits. The first request in a
    debounce window (``LUDUS_LEADERBOARD_DEBOUNCE_SECONDS``) sets a cache key and enqueues
    the rebuild with that countdown; later ones see the key and do nothing, and the rebuild,
    running after every one of them committed, sees their battles. In eager mode the
    rebuild runs at once. Returns ``True`` (the request is registered).
    """

    deferred = _deferred.get()
    if deferred is not None:
        deferred.append(True)
        return True

    def _enqueue() -> None:
        delay = leaderboard_debounce_seconds()
        now = time.time()
        if now < _scheduled_until[0]:
            return  # a rebuild scheduled by this window starts after now: it will see this commit
        try:
            first = cache.add(REBUILD_PENDING_KEY, now, timeout=max(1, delay))
            since = now if first else cache.get(REBUILD_PENDING_KEY)
        except Exception:  # no cache: rebuild anyway, the rebuild itself is idempotent
            log.warning("cache unavailable; leaderboard rebuild not debounced", exc_info=True)
            first, since = True, None
        if isinstance(since, int | float):
            # The rebuild of the window that began at `since` was enqueued with countdown=delay.
            _scheduled_until[0] = since + delay - min(_WINDOW_MARGIN_SECONDS, delay / 4)
        if not first:
            return
        try:
            # touched scopes only: the periodic rebuild covers every scope and the slow methods
            task_send(name=REBUILD_TASK, args=(False, "touched"), countdown=delay)
        except Exception:
            log.exception(
                "could not enqueue the leaderboard rebuild; the periodic rebuild will catch up"
            )
            cache.delete(REBUILD_PENDING_KEY)
            _scheduled_until[0] = 0.0
            return
        if settings.CELERY_TASK_ALWAYS_EAGER:
            # the rebuild ran just now, in-process: keep the window open for `delay` from its end
            with contextlib.suppress(Exception):
                cache.set(REBUILD_PENDING_KEY, time.time(), timeout=max(1, delay))

    transaction.on_commit(_enqueue)
    return True
