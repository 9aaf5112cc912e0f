"""Pair aggregates: every scope's battles as per-pair outcome counts, kept up to date.

The rebuild advances :class:`arena.models.PairAggregate` from a watermark (the largest Battle
id folded in, :class:`arena.models.AggregateWatermark`) to the committed battles it pins, in
one ``INSERT ... SELECT ... GROUP BY ... ON CONFLICT`` statement. Every way a Battle row is
written (a vote, a judged match, an import, a bulk ``COPY``) is covered without hooks, and the
methods that depend on pair counts only (Bradley-Terry, win rate, α-Rank, expected score) read
O(pairs) rows instead of O(battles).

Each fold also adds to the roll-up rows of the same pairs: per source over every category,
per category over every source, and over both (``source`` and/or ``category`` :data:`ANY`), so
every board scope, the combined and all-categories ones included, reads one row per pair of
its own, never a sum over the categories and sources at read time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from django.db import connection, transaction

from arena.models import AggregateWatermark, Battle, PairAggregate, PairCount

WATERMARK = "pair_aggregates"
#: ``source`` / ``category`` of the roll-up rows (every source, every category): never those
#: of a battle (battle sources are checked by the database, categories are never blank).
ANY = ""


@dataclass(frozen=True)
class AggregateAdvance:
    """What one advance folded in: the new watermarks and the (source, category) it touched.

    ``pair_count_categories`` are the categories of PairCount rows not seen before.
    """

    battles_upto: int
    pair_counts_upto: int
    touched: frozenset[tuple[str, str]]
    pair_count_categories: frozenset[str]


def _fold_sql() -> str:
    agg, battle = PairAggregate._meta.db_table, Battle._meta.db_table
    least, greatest = ("LEAST", "GREATEST") if connection.vendor == "postgresql" else ("MIN", "MAX")
    lo, hi = f"{least}(model_a_id, model_b_id)", f"{greatest}(model_a_id, model_b_id)"
    lo_won = (
        "(outcome = 'model_a' AND model_a_id < model_b_id) "
        "OR (outcome = 'model_b' AND model_b_id < model_a_id)"
    )
    hi_won = (
        "(outcome = 'model_a' AND model_a_id > model_b_id) "
        "OR (outcome = 'model_b' AND model_b_id > model_a_id)"
    )
    sums = "SUM(w_lo), SUM(w_hi), SUM(t), MAX(last)"
    # table names from the models and fixed SQL fragments; the ids are parameters. The
    # battles are grouped once (fine); the roll-ups sum the fine groups. "WHERE 1 = 1" keeps
    # SQLite's parser from reading ON CONFLICT as a join constraint.
    return f"""
        WITH fine AS (
            SELECT source, category, {lo} AS lo, {hi} AS hi,
                SUM(CASE WHEN {lo_won} THEN 1 ELSE 0 END) AS w_lo,
                SUM(CASE WHEN {hi_won} THEN 1 ELSE 0 END) AS w_hi,
                SUM(CASE WHEN outcome IN ('tie', 'tie (bothbad)') THEN 1 ELSE 0 END) AS t,
                MAX(id) AS last
            FROM {battle}
            WHERE id > %s AND id <= %s
            GROUP BY source, category, {lo}, {hi}
        )
        INSERT INTO {agg}
            (source, category, model_lo_id, model_hi_id, wins_lo, wins_hi, ties, last_battle_id)
        SELECT source, category, lo, hi, w_lo, w_hi, t, last FROM fine WHERE 1 = 1
        UNION ALL
        SELECT source, '{ANY}', lo, hi, {sums} FROM fine WHERE 1 = 1 GROUP BY source, lo, hi
        UNION ALL
        SELECT '{ANY}', category, lo, hi, {sums} FROM fine WHERE 1 = 1 GROUP BY category, lo, hi
        UNION ALL
        SELECT '{ANY}', '{ANY}', lo, hi, {sums} FROM fine WHERE 1 = 1 GROUP BY lo, hi
        ON CONFLICT (model_lo_id, model_hi_id, source, category) DO UPDATE SET
            wins_lo = {agg}.wins_lo + EXCLUDED.wins_lo,
            wins_hi = {agg}.wins_hi + EXCLUDED.wins_hi,
            ties = {agg}.ties + EXCLUDED.ties,
            last_battle_id = EXCLUDED.last_battle_id
    """  # noqa: S608


def aggregates_advance(*, battles_upto: int, pair_counts_upto: int) -> AggregateAdvance:
    """Fold the Battle rows with ``watermark < id <= battles_upto`` into the pair aggregates.

    ``battles_upto`` must be a committed watermark (every row at or below it committed, see
    ``arena.services.leaderboard._watermarks``). Concurrent callers queue on the watermark
    row; an advance to a watermark already reached folds nothing. Also moves the PairCount
    watermark (pair counts are read as they are; it only tells which categories are new).
    """
    reached = AggregateWatermark.objects.filter(name=WATERMARK).values_list(
        "battles_upto", "pair_counts_upto"
    )
    for battles_done, pair_counts_done in reached:
        if battles_done >= battles_upto and pair_counts_done >= pair_counts_upto:
            # already there (each scope of one rebuild asks again): no lock, nothing to fold
            return AggregateAdvance(
                battles_upto=battles_done,
                pair_counts_upto=pair_counts_done,
                touched=frozenset(),
                pair_count_categories=frozenset(),
            )
    with transaction.atomic():
        AggregateWatermark.objects.get_or_create(name=WATERMARK)
        mark = AggregateWatermark.objects.select_for_update().get(name=WATERMARK)
        touched: set[tuple[str, str]] = set()
        categories: set[str] = set()
        if battles_upto > mark.battles_upto:
            touched = set(
                Battle.objects.filter(id__gt=mark.battles_upto, id__lte=battles_upto)
                .values_list("source", "category")
                .distinct()
            )
            with connection.cursor() as cursor:
                cursor.execute(_fold_sql(), [mark.battles_upto, battles_upto])
            mark.battles_upto = battles_upto
        if pair_counts_upto > mark.pair_counts_upto:
            categories = set(
                PairCount.objects.filter(id__gt=mark.pair_counts_upto, id__lte=pair_counts_upto)
                .values_list("category", flat=True)
                .distinct()
            )
            mark.pair_counts_upto = pair_counts_upto
        mark.save(update_fields=["battles_upto", "pair_counts_upto"])
        return AggregateAdvance(
            battles_upto=mark.battles_upto,
            pair_counts_upto=mark.pair_counts_upto,
            touched=frozenset(touched),
            pair_count_categories=frozenset(categories),
        )


def aggregate_key(*, source: str, category: str, all_categories: str = "all") -> tuple[str, str]:
    """The (source, category) of a board scope's own aggregate rows (roll-ups: :data:`ANY`)."""
    return (
        ANY if source == "combined" else source,
        ANY if category == all_categories else category,
    )


#: The columns of :func:`aggregate_rows`, in order.
_ROW_COLUMNS = ("model_lo_id", "model_hi_id", "wins_lo", "wins_hi", "ties", "last_battle_id")


def aggregate_rows(
    *, source: str, category: str, excluded: list[int], all_categories: str = "all"
) -> np.ndarray:
    """The scope's pairs as an int64 array of ``(lo, hi, wins_lo, wins_hi, ties,
    last_battle_id)`` rows, sorted by pair.

    ``source`` ``"combined"`` and ``category`` ``all_categories`` are every source and every
    category (their roll-up rows); pairs with an ``excluded`` competitor are left out. One
    statement, one row per pair of the scope: on PostgreSQL the rows come packed into one
    ``bytea`` (:func:`_rows_packed`: 20,000 pairs in 17 ms against 41 ms as rows, most of a
    rebuild's reading), elsewhere as rows (:func:`_rows_plain`); a test compares the two.
    """
    key = aggregate_key(source=source, category=category, all_categories=all_categories)
    where = "source = %s AND category = %s"
    params: list[Any] = list(key)
    if excluded:
        marks = ", ".join(["%s"] * len(excluded))
        where += f" AND model_lo_id NOT IN ({marks}) AND model_hi_id NOT IN ({marks})"
        params += [*excluded, *excluded]
    read = _rows_packed if connection.vendor == "postgresql" else _rows_plain
    rows = read(where, params)
    # sorted here: numpy sorts the scope's pairs in a fraction of the database's time
    return rows[np.lexsort((rows[:, 1], rows[:, 0]))]


def _rows_plain(where: str, params: list[Any]) -> np.ndarray:
    # table name from the model and fixed SQL fragments; the values are parameters
    sql = f"SELECT {', '.join(_ROW_COLUMNS)} FROM {PairAggregate._meta.db_table} WHERE {where}"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return np.array(cursor.fetchall(), dtype=np.int64).reshape(-1, len(_ROW_COLUMNS))


def _rows_packed(where: str, params: list[Any]) -> np.ndarray:
    """PostgreSQL: every row's six ``bigint`` as big-endian bytes (``int8send``), concatenated
    by the server into one value, read by numpy without a Python object per number."""
    packed = " || ".join(f"int8send({c})" for c in _ROW_COLUMNS)
    table = PairAggregate._meta.db_table
    # table name from the model and fixed SQL fragments; the values are parameters
    sql = f"SELECT string_agg({packed}, ''::bytea) FROM {table} WHERE {where}"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        blob = cursor.fetchone()[0]
    data = np.frombuffer(bytes(blob) if blob is not None else b"", dtype=">i8")
    return data.astype(np.int64).reshape(-1, len(_ROW_COLUMNS))


def aggregate_scopes() -> set[tuple[str, str]]:
    """Every (source, category) with aggregated battles (the roll-ups are not scopes)."""
    return set(
        PairAggregate.objects.exclude(source=ANY)
        .exclude(category=ANY)
        .values_list("source", "category")
        .distinct()
    )


def _newer_than_the_watermark() -> str:
    """SQL condition on a Battle row: not yet folded into the aggregates (one parameter: the
    watermark's name, :data:`WATERMARK`). Read in the same statement as the aggregates, so both
    are read at one watermark."""
    marks = AggregateWatermark._meta.db_table
    # table name from the model; the name is a parameter
    return f"id > (SELECT COALESCE(MAX(battles_upto), 0) FROM {marks} WHERE name = %s)"  # noqa: S608


@dataclass(frozen=True)
class CompetitorResult:
    """A competitor's Battle outcomes against one opponent from one source (ties of both
    kinds together)."""

    source: str
    opponent_id: int
    wins: int
    losses: int
    ties: int


def competitor_results(*, competitor_id: int) -> list[CompetitorResult]:
    """Every Battle of ``competitor_id`` as counts per (source, opponent): exact and current.

    The per-source roll-up rows of the pair aggregates (up to the watermark) plus the battles
    newer than the watermark (the tail, read through the primary key), in one statement so
    both are read at one watermark; O(pairs + tail), never a scan of the model's battles.
    Read-only: it never advances the aggregates. Imported pair counts (:class:`PairCount`)
    are not included.
    """
    agg, battle = PairAggregate._meta.db_table, Battle._meta.db_table
    me = competitor_id
    # table names from the models and fixed SQL fragments; the values are parameters
    sql = f"""
        SELECT source, opponent, SUM(wins), SUM(losses), SUM(ties) FROM (
            SELECT source,
                CASE WHEN model_lo_id = %s THEN model_hi_id ELSE model_lo_id END AS opponent,
                CASE WHEN model_lo_id = %s THEN wins_lo ELSE wins_hi END AS wins,
                CASE WHEN model_lo_id = %s THEN wins_hi ELSE wins_lo END AS losses,
                ties
            FROM {agg}
            WHERE category = %s AND source <> %s AND (model_lo_id = %s OR model_hi_id = %s)
            UNION ALL
            SELECT source,
                CASE WHEN model_a_id = %s THEN model_b_id ELSE model_a_id END,
                CASE WHEN outcome = CASE WHEN model_a_id = %s THEN 'model_a' ELSE 'model_b' END
                    THEN 1 ELSE 0 END,
                CASE WHEN outcome = CASE WHEN model_a_id = %s THEN 'model_b' ELSE 'model_a' END
                    THEN 1 ELSE 0 END,
                CASE WHEN outcome IN ('tie', 'tie (bothbad)') THEN 1 ELSE 0 END
            FROM {battle}
            WHERE {_newer_than_the_watermark()}
                AND (model_a_id = %s OR model_b_id = %s)
        ) results
        GROUP BY source, opponent
        ORDER BY source, opponent
    """  # noqa: S608
    params: list[int | str] = [me, me, me, ANY, ANY, me, me, me, me, me, WATERMARK, me, me]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return [
        CompetitorResult(
            source=source, opponent_id=int(opp), wins=int(w), losses=int(lost), ties=int(t)
        )
        for source, opp, w, lost, t in rows
    ]


def pair_battle_totals(*, competitor_ids: list[int]) -> list[tuple[int, int, int]]:
    """Battles between every two of ``competitor_ids`` (any source, any category, any
    outcome) as ``(lo_id, hi_id, battles)``, exact and current: the all-scopes roll-up rows up
    to the watermark plus the battles newer than it (read through the primary key), in one
    statement so both are read at one watermark; O(pairs + tail). Read-only. Imported pair
    counts (:class:`PairCount`) are not included.
    """
    if not competitor_ids:
        return []
    agg, battle = PairAggregate._meta.db_table, Battle._meta.db_table
    least, greatest = ("LEAST", "GREATEST") if connection.vendor == "postgresql" else ("MIN", "MAX")
    marks = ", ".join(["%s"] * len(competitor_ids))
    # table names from the models and fixed SQL fragments; the values are parameters
    sql = f"""
        SELECT lo, hi, SUM(n) FROM (
            SELECT model_lo_id AS lo, model_hi_id AS hi, wins_lo + wins_hi + ties AS n
            FROM {agg}
            WHERE source = %s AND category = %s
                AND model_lo_id IN ({marks}) AND model_hi_id IN ({marks})
            UNION ALL
            SELECT {least}(model_a_id, model_b_id), {greatest}(model_a_id, model_b_id), 1
            FROM {battle}
            WHERE {_newer_than_the_watermark()}
                AND model_a_id IN ({marks}) AND model_b_id IN ({marks})
        ) totals
        GROUP BY lo, hi
        ORDER BY lo, hi
    """  # noqa: S608
    ids = list(competitor_ids)
    params: list[int | str] = [ANY, ANY, *ids, *ids, WATERMARK, *ids, *ids]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [(int(lo), int(hi), int(n)) for lo, hi, n in cursor.fetchall()]
