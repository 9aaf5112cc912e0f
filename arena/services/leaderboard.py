"""Leaderboard building: battles from the database -> ranking/ -> versioned snapshots.

Every published number is reproducible: a snapshot stores the method, its parameters and a
fingerprint of the battles it was computed from (``data_version``). Rebuilding with unchanged
data and parameters creates no new version, so the rebuild task is idempotent.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, InterfaceError, OperationalError, transaction
from django.db.models import Count, Max, Q

from arena.models import Battle, Competitor, LeaderboardSnapshot, PairCount, Source
from ranking.battles import Battles
from ranking.types import A_WINS, B_WINS, OUTCOMES, TIE, RatingResult

log = logging.getLogger(__name__)

SOURCES: tuple[str, ...] = ("combined", "human", "judge", "import")
ALL_CATEGORIES = "all"
_OUTCOME_CODE = {name: code for code, name in enumerate(OUTCOMES)}


def cache_key(method: str, source: str, category: str) -> str:
    return f"leaderboard:v1:{method}:{source}:{category}"


def snapshot_etag(data: dict[str, Any]) -> str:
    """The HTTP entity tag of a published snapshot (as a dict): it names the exact version."""
    return f'"{data["method"]}.{data["source"]}.{data["category"]}.v{data["version"]}.{data["data_version"]}"'


def snapshot_cache(snapshot: LeaderboardSnapshot) -> None:
    """Publish ``snapshot`` as its scope's latest in the cache: the dict, and its ETag under ``…:etag``.

    Readers check the small ETag key first and only fetch the dict when they have not
    rendered that version yet (see ``arena.api.views.leaderboard``).
    """
    data = snapshot_to_dict(snapshot)
    key = cache_key(snapshot.method, snapshot.source, snapshot.category)
    cache.set_many({key: data, f"{key}:etag": snapshot_etag(data)}, timeout=None)
    # (imported here: the selector module imports this one)
    from arena.selectors.leaderboard import leaderboard_etags_forget

    leaderboard_etags_forget()


@dataclass(frozen=True)
class BattleData:
    """The battles of one (source, category) scope, integer coded by competitor id."""

    battles: Battles
    competitor_ids: list[int]
    n_records: int  # individual Battle rows (the rest come from pair counts)
    data_version: str


def _scope_filter(source: str, category: str) -> Q:
    q = Q()
    if source != "combined":
        q &= Q(source=source)
    if category != ALL_CATEGORIES:
        q &= Q(category=category)
    return q


def battle_data_load(*, source: str = "combined", category: str = ALL_CATEGORIES) -> BattleData:
    """Load every battle of a scope as a :class:`ranking.battles.Battles` (pair counts weighted)."""
    battle_qs = Battle.objects.filter(_scope_filter(source, category))
    rows = list(battle_qs.order_by("tstamp", "id").values_list("model_a_id", "model_b_id", "outcome", "tstamp"))
    count_rows: list[tuple[int, int, int, int, int]] = []
    if source in ("combined", Source.IMPORT):
        pc_qs = PairCount.objects.all()
        if category != ALL_CATEGORIES:
            pc_qs = pc_qs.filter(category=category)
        count_rows = list(pc_qs.values_list("model_a_id", "model_b_id", "wins_a", "wins_b", "ties"))

    ids = sorted({r[0] for r in rows} | {r[1] for r in rows} | {r[0] for r in count_rows} | {r[1] for r in count_rows})
    index = {cid: i for i, cid in enumerate(ids)}
    names = dict(Competitor.objects.filter(id__in=ids).values_list("id", "name"))

    a = [index[r[0]] for r in rows]
    b = [index[r[1]] for r in rows]
    outcome = [_OUTCOME_CODE[r[2]] for r in rows]
    weight = [1.0] * len(rows)
    for ma, mb, wa, wb, t in count_rows:
        for code, w in ((A_WINS, wa), (B_WINS, wb), (TIE, t)):
            if w:
                a.append(index[ma])
                b.append(index[mb])
                outcome.append(code)
                weight.append(float(w))
    tstamp = None
    if rows and not count_rows:
        tstamp = np.array([r[3].timestamp() for r in rows], dtype=np.float64)
    battles = Battles(
        models=tuple(names[cid] for cid in ids),
        a=np.asarray(a, dtype=np.int32),
        b=np.asarray(b, dtype=np.int32),
        outcome=np.asarray(outcome, dtype=np.int8),
        tstamp=tstamp,
        weight=None if not count_rows else np.asarray(weight, dtype=np.float64),
    )
    stats = battle_qs.aggregate(n=Count("id"), last=Max("id"))
    pc_stats = PairCount.objects.aggregate(n=Count("id"), last=Max("id")) if count_rows else {}
    fingerprint = json.dumps([source, category, stats, pc_stats], sort_keys=True, default=str)
    return BattleData(
        battles=battles,
        competitor_ids=ids,
        n_records=len(rows),
        data_version=hashlib.sha256(fingerprint.encode()).hexdigest()[:16],
    )


def _method_registry() -> dict[str, tuple[dict[str, Any], Callable[..., RatingResult]]]:
    """Methods computed for every scope: name -> (parameters, function(battles, **params))."""
    from ranking.bradley_terry import bradley_terry
    from ranking.elo import elo

    methods: dict[str, tuple[dict[str, Any], Callable[..., RatingResult]]] = {
        "bt": ({"scale": 400.0, "base": 10.0, "init": 1000.0, "ci": "sandwich", "confidence": 0.95}, bradley_terry),
        "elo": ({"k": 4.0, "scale": 400.0, "base": 10.0, "init": 1000.0}, elo),
    }
    try:
        from ranking.openskill import openskill_rate

        methods["openskill"] = ({"model": "plackett-luce"}, openskill_rate)
    except ImportError:  # pragma: no cover - present once ranking/openskill.py lands
        pass
    try:
        from ranking.winrate import average_win_rate

        methods["winrate"] = ({}, average_win_rate)
    except ImportError:  # pragma: no cover
        pass
    try:
        from ranking.alpharank import alpharank_from_battles  # noqa: F401

        methods["alpharank"] = ({"alpha": 100.0, "population_size": 50}, _alpharank_result)
    except ImportError:  # pragma: no cover
        pass
    try:
        from ranking.simulate import predict_tournament  # noqa: F401

        methods["expected_score"] = (
            {"format": "swiss", "rounds": "ceil(log2 M)", "iterations": 20000, "seed": 0, "ratings": "bt"},
            _expected_score_result,
        )
    except ImportError:  # pragma: no cover
        pass
    return methods


def _components(battles: Battles) -> np.ndarray:
    n = battles.n_models
    parent = list(range(n))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for i, j in zip(battles.a.tolist(), battles.b.tolist()):
        parent[find(i)] = find(j)
    roots = [find(i) for i in range(n)]
    sizes: dict[int, int] = {}
    for r in roots:
        sizes[r] = sizes.get(r, 0) + 1
    order = sorted(sizes, key=lambda r: (-sizes[r], r))
    label = {r: k for k, r in enumerate(order)}
    return np.array([label[r] for r in roots], dtype=np.int64)


def _battle_counts(battles: Battles) -> np.ndarray:
    w = np.ones(len(battles)) if battles.weight is None else battles.weight
    counts = np.bincount(battles.a, weights=w, minlength=battles.n_models)
    counts += np.bincount(battles.b, weights=w, minlength=battles.n_models)
    return np.rint(counts).astype(np.int64)


def _alpharank_result(battles: Battles, *, alpha: float, population_size: int) -> RatingResult:
    """α-Rank stationary mass of each model (payoff = empirical win rate) as a rating."""
    from ranking.alpharank import alpharank_from_battles

    result = alpharank_from_battles(battles, alpha=alpha, population_size=population_size)
    mass = np.zeros(battles.n_models)
    for profile, m in zip(result.profiles, result.mass):
        mass[int(profile[0])] = float(m)
    return RatingResult(
        method="alpharank", params={"alpha": alpha, "population_size": population_size},
        models=list(battles.models), rating=mass, lower=None, upper=None,
        battles=_battle_counts(battles), component=_components(battles), n_battles=len(battles),
    )


def _expected_score_result(battles: Battles, **params: Any) -> RatingResult:
    """E[S]: expected wins in a Competitive Swiss tournament of ``ceil(log2 M)`` rounds,
    predicted from the Bradley-Terry ratings (``ranking.simulate.predict_tournament``)."""
    from ranking.bradley_terry import bradley_terry
    from ranking.simulate import predict_tournament

    bt = bradley_terry(battles, l2=1.0)
    if battles.n_models < 2:
        es = np.zeros(battles.n_models)
        se = np.zeros(battles.n_models)
        p_win = np.ones(battles.n_models)
    else:
        pred = predict_tournament(bt.rating, format="swiss", names=list(bt.models),
                                  iterations=int(params["iterations"]), rng=int(params["seed"]))
        es, se, p_win = pred.expected_score, pred.stderr, pred.p_win
    return RatingResult(
        method="expected_score", params=params, models=list(bt.models), rating=np.asarray(es, dtype=np.float64),
        lower=np.asarray(es - 1.96 * se), upper=np.asarray(es + 1.96 * se), battles=_battle_counts(battles),
        component=_components(battles), n_battles=len(battles), extra={"p_win": np.asarray(p_win)},
    )


def _win_rates(battles: Battles) -> np.ndarray:
    wins, ties = battles.pair_counts()
    played = wins.sum(axis=1) + wins.sum(axis=0) + ties.sum(axis=1)
    score = wins.sum(axis=1) + 0.5 * ties.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(played > 0, score / np.maximum(played, 1e-300), np.nan)


def _rows(result: RatingResult, data: BattleData) -> list[dict[str, Any]]:
    win_rate = _win_rates(data.battles)
    by_name = {name: i for i, name in enumerate(data.battles.models)}
    rows = result.to_rows()
    for row in rows:
        i = by_name[row["model"]]
        row["competitor_id"] = data.competitor_ids[i]
        row["win_rate"] = None if np.isnan(win_rate[i]) else float(win_rate[i])
    return rows


def snapshot_to_dict(snapshot: LeaderboardSnapshot) -> dict[str, Any]:
    return {
        "method": snapshot.method,
        "source": snapshot.source,
        "category": snapshot.category,
        "version": snapshot.version,
        "data_version": snapshot.data_version,
        "params": snapshot.params,
        "n_battles": snapshot.n_battles,
        "n_models": snapshot.n_models,
        "compute_ms": snapshot.compute_ms,
        "created_at": snapshot.created_at.isoformat(),
        "ratings": snapshot.ratings,
    }


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
    force: bool = False,
) -> LeaderboardSnapshot:
    """Store a new snapshot version unless the latest one has the same data and parameters."""
    latest = (
        LeaderboardSnapshot.objects.filter(method=method, source=source, category=category).order_by("-version").first()
    )
    if latest and not force and latest.data_version == data_version and latest.params == params:
        snapshot_cache(latest)
        return latest
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
                    ratings=ratings,
                    n_battles=n_battles,
                    n_models=len(ratings),
                    compute_ms=compute_ms,
                )
            break
        except IntegrityError:
            latest = (
                LeaderboardSnapshot.objects.filter(method=method, source=source, category=category)
                .order_by("-version")
                .first()
            )
    else:  # pragma: no cover
        raise RuntimeError("could not allocate a snapshot version")
    snapshot_cache(snapshot)
    return snapshot


def leaderboard_rebuild(
    *, source: str = "combined", category: str = ALL_CATEGORIES, methods: Iterable[str] | None = None, force: bool = False
) -> list[LeaderboardSnapshot]:
    """Recompute the snapshots of one scope for the given methods (all registered by default)."""
    data = battle_data_load(source=source, category=category)
    if len(data.battles) == 0:
        return []
    registry = _method_registry()
    wanted = list(registry) if methods is None else [m for m in methods if m in registry]
    snapshots = []
    for method in wanted:
        params, fn = registry[method]
        latest = (
            LeaderboardSnapshot.objects.filter(method=method, source=source, category=category)
            .order_by("-version").first()
        )
        if latest is not None and not force and latest.data_version == data.data_version and latest.params == params:
            # unchanged data and parameters: nothing to compute (the rebuild is idempotent and cheap)
            snapshot_cache(latest)
            snapshots.append(latest)
            continue
        started = time.perf_counter()
        result = fn(data.battles, **params)
        elapsed = int((time.perf_counter() - started) * 1000)
        snapshots.append(
            snapshot_publish(
                method=method,
                source=source,
                category=category,
                data_version=data.data_version,
                params=params,
                ratings=_rows(result, data),
                n_battles=int(round(float(data.battles.weight.sum()))) if data.battles.weight is not None else len(data.battles),
                compute_ms=elapsed,
                force=force,
            )
        )
    return snapshots


def leaderboard_scopes() -> list[tuple[str, str]]:
    """Every (source, category) that has battles."""
    pairs = set(Battle.objects.values_list("source", "category").distinct())
    pc_categories = set(PairCount.objects.values_list("category", flat=True).distinct())
    pairs |= {(Source.IMPORT.value, c) for c in pc_categories}
    scopes: set[tuple[str, str]] = set()
    for source, category in pairs:
        for s in (source, "combined"):
            scopes.add((s, ALL_CATEGORIES))
            scopes.add((s, category))
    return sorted(scopes)


def leaderboard_rebuild_all(*, force: bool = False) -> dict[str, int]:
    """Rebuild every scope; returns how many snapshots are current per method."""
    counts: dict[str, int] = {}
    for source, category in leaderboard_scopes():
        try:
            for snap in leaderboard_rebuild(source=source, category=category, force=force):
                counts[snap.method] = counts.get(snap.method, 0) + 1
        except (OperationalError, InterfaceError):  # the database is gone: the task retries the whole rebuild
            raise
        except Exception:  # one bad scope must not stop the others; it is logged loudly
            log.exception("leaderboard rebuild failed", extra={"source": source, "category": category})
    cache.set("leaderboard:v1:rebuilt_at", time.time(), timeout=None)
    return counts


def leaderboard_debounce_seconds() -> int:
    return settings.LUDUS_LEADERBOARD_DEBOUNCE_SECONDS


REBUILD_PENDING_KEY = "leaderboard:v1:rebuild-pending"
#: Process-local: until this time (``time.time()``) a rebuild is known to be scheduled that
#: starts later, so a commit before it needs no cache round trip to be included. A hot vote
#: stream then asks the cache once per window and process instead of once per vote.
_scheduled_until: list[float] = [0.0]
#: Taken off the window's end, for clock skew between hosts and the time an enqueue takes.
_WINDOW_MARGIN_SECONDS = 1.0


def leaderboard_schedule_forget() -> None:
    """Forget what this process knows about the scheduled rebuild (tests, after clearing the cache)."""
    _scheduled_until[0] = 0.0


_deferred: contextvars.ContextVar[list[bool] | None] = contextvars.ContextVar("ludus_rebuild_deferred", default=None)


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
        from workers.tasks.leaderboard import rebuild_leaderboards_task

        try:
            rebuild_leaderboards_task.apply_async(countdown=delay)
        except Exception:
            log.exception("could not enqueue the leaderboard rebuild; the periodic rebuild will catch up")
            cache.delete(REBUILD_PENDING_KEY)
            _scheduled_until[0] = 0.0
            return
        if settings.CELERY_TASK_ALWAYS_EAGER:
            # the rebuild ran just now, in-process: keep the window open for `delay` from its end
            with contextlib.suppress(Exception):
                cache.set(REBUILD_PENDING_KEY, time.time(), timeout=max(1, delay))

    transaction.on_commit(_enqueue)
    return True
