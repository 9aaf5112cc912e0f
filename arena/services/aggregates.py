"""Pair aggregates: every scope's battles as per-pair outcome counts, kept up to date.

The rebuild advances :class:`arena.models.PairAggregate` from a watermark (the largest Battle
id folded in, :class:`arena.models.AggregateWatermark`) to the committed battles it pins, in
one ``INSERT ... SELECT ... GROUP BY ... ON CONFLICT`` statement. Every way a Battle row is
written (a vote, a judged match, an import, a bulk ``COPY``) is covered without hooks, and the
methods that depend on pair counts only (Bradley-Terry, win rate, α-Rank, expected score) read
O(pairs) rows instead of O(battles).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connection, transaction
from django.db.models import Max, Sum

from arena.models import AggregateWatermark, Battle, PairAggregate, PairCount

WATERMARK = "pair_aggregates"


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
    # table names from the models and fixed SQL fragments; the ids are parameters
    return f"""
        INSERT INTO {agg}
            (source, category, model_lo_id, model_hi_id, wins_lo, wins_hi, ties, last_battle_id)
        SELECT source, category, {lo}, {hi},
            SUM(CASE WHEN {lo_won} THEN 1 ELSE 0 END),
            SUM(CASE WHEN {hi_won} THEN 1 ELSE 0 END),
            SUM(CASE WHEN outcome IN ('tie', 'tie (bothbad)') THEN 1 ELSE 0 END),
            MAX(id)
        FROM {battle}
        WHERE id > %s AND id <= %s
        GROUP BY source, category, {lo}, {hi}
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


def aggregate_rows(
    *, source: str, category: str, excluded: list[int], all_categories: str = "all"
) -> list[tuple[int, int, int, int, int, int]]:
    """The scope's pairs as ``(lo, hi, wins_lo, wins_hi, ties, last_battle_id)`` rows.

    ``source`` ``"combined"`` and ``category`` ``all_categories`` sum over all; pairs with an
    ``excluded`` competitor are left out. Sorted by pair.
    """
    qs = PairAggregate.objects.all()
    if source != "combined":
        qs = qs.filter(source=source)
    if category != all_categories:
        qs = qs.filter(category=category)
    if excluded:
        qs = qs.exclude(model_lo_id__in=excluded).exclude(model_hi_id__in=excluded)
    rows = (
        qs.values("model_lo_id", "model_hi_id")
        .annotate(
            w_lo=Sum("wins_lo"), w_hi=Sum("wins_hi"), t=Sum("ties"), last=Max("last_battle_id")
        )
        .order_by("model_lo_id", "model_hi_id")
        .values_list("model_lo_id", "model_hi_id", "w_lo", "w_hi", "t", "last")
    )
    return [tuple(int(x) for x in r) for r in rows]  # type: ignore[misc]


def aggregate_scopes() -> set[tuple[str, str]]:
    """Every (source, category) with aggregated battles."""
    return set(PairAggregate.objects.values_list("source", "category").distinct())
