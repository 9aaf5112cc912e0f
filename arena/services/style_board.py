"""The style-controlled Bradley-Terry board, published beside the plain one.

LMArena's default board since 2024: the contextual Bradley-Terry model of
:func:`ranking.style.bradley_terry_style` separates what a model wins through its answers' style
(length, markdown headers, lists, bold; built exactly as FastChat builds them) from the rest.
It is computed for every scope from the battles that carry ``conv_metadata`` (imported with
it, or computed by Ludus for the answers it generated, see :mod:`arena.services.conv_metadata`);
battles without it and imported pair counts cannot enter the fit, and the board says how many
were left out. The fit is per battle, so it costs O(battles); there is no slower rebuild
cadence yet, so it runs in the normal rebuild, skipped like every board when its data did not
change.

Ratings are on the plain board's scale and gauge (400 points per factor of 10 in the odds,
each comparison group's mean at 1000), so the two boards can be compared row by row; only the
four style coefficients are penalised (ridge 0.5 on the summed log-loss, FastChat's ``reg``;
arena-rank's objective). Intervals: 95% sandwich (robust) intervals for ratings and
coefficients, whose coverage is checked in simulation by ``tests/arena/test_style_board.py``.
The board's snapshot carries the coefficients in ``board["style"]``.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from django.db.models import Sum

from arena.models import LeaderboardSnapshot
from arena.services import leaderboard
from arena.services.conv_metadata import TOKENIZER
from ranking.style import bradley_terry_style, style_counts

#: The board's method name (``leaderboard/?method=bt_style`` or ``?style_control=true``).
METHOD = "bt_style"
#: The plain method whose style-controlled twin this board is.
PLAIN_METHOD = "bt"
PARAMS: dict[str, Any] = {
    "scale": 400.0,
    "base": 10.0,
    "init": 1000.0,
    "ridge": 0.5,
    "ratings_ridge": False,
    "ci": "sandwich",
    "confidence": 0.95,
}
INTERVAL = (
    "95% sandwich (robust H⁻¹GH⁻¹) interval of the contextual Bradley-Terry fit, for each rating "
    "relative to the mean of its comparison group and for each style coefficient"
)
FEATURE_LABELS: dict[str, str] = {
    "length": "answer length (tokens)",
    "header": "markdown headers",
    "list": "list items",
    "bold": "bold spans",
}


def style_board_register() -> None:
    """Add this board to the leaderboard rebuild (called once at start-up by ``arena.apps``)."""
    leaderboard.leaderboard_board_register(METHOD, style_board_rebuild)


def _left_out(selection: dict[str, Any]) -> dict[str, int]:
    """Battles of the scope the style fit cannot use: no ``conv_metadata``, or pair counts."""
    without = (
        leaderboard.scope_battles(selection).filter(conv_metadata__isnull=True).count()
        if selection["battles_upto"]
        else 0
    )
    pairs = {"rows": 0, "battles": 0}
    if selection.get("pair_counts_upto") is not None:
        agg = leaderboard.scope_pair_counts(selection).aggregate(
            n=Sum("wins_a") + Sum("wins_b") + Sum("ties")
        )
        total = int(agg["n"] or 0)
        if total:
            pairs = {"rows": leaderboard.scope_pair_counts(selection).count(), "battles": total}
    return {"without_metadata": without, **{f"pair_count_{k}": v for k, v in pairs.items()}}


def style_board_rebuild(
    *,
    source: str,
    category: str,
    selection: dict[str, Any],
    withdrawn: set[int],
    rule: dict[str, int],
    force: bool = False,
) -> LeaderboardSnapshot | None:
    """Publish the style-controlled board of one scope (``None``: no battle has metadata).

    ``selection`` is the scope's row selection of this rebuild (its watermarks), so the board
    sees the same committed battles as the plain boards. Unchanged data gives no new version.
    """
    scope = {**selection, "pair_counts_upto": None, "conv_metadata_only": True}
    # streamed: each chunk's metadata becomes its eight style counts at once (a battle's dict
    # is never kept), so memory grows by the arrays, not by 10M dicts
    counts: list[np.ndarray] = []
    upto = [0]

    def keep(chunk: list[tuple[Any, ...]]) -> None:
        counts.append(style_counts([r[5] for r in chunk]))
        upto[0] = max(upto[0], max(r[4] for r in chunk))

    rows = leaderboard.battle_rows(
        leaderboard.scope_battles(scope)
        .order_by("tstamp", "id")
        .values_list("model_a_id", "model_b_id", "outcome", "tstamp", "id", "conv_metadata")
        .iterator(chunk_size=leaderboard.ROW_CHUNK),
        each=keep,
    )
    if not len(rows):
        return None
    left_out = _left_out(selection)
    inputs = {
        **scope,
        "battles_upto": upto[0],
        "excluded_pair_counts": {
            "rows": left_out["pair_count_rows"],
            "battles": left_out["pair_count_battles"],
        },
        "excluded_without_metadata": left_out["without_metadata"],
    }
    presentation = {"interval": INTERVAL, "listing": rule}
    data_version = leaderboard._data_version(inputs, presentation, withdrawn)
    unchanged = leaderboard.snapshot_unchanged(
        method=METHOD,
        source=source,
        category=category,
        data_version=data_version,
        params=PARAMS,
        force=force,
    )
    if unchanged is not None:
        return unchanged
    battles, ids = leaderboard._build(rows, [])
    data = leaderboard.BattleData(
        battles=battles, competitor_ids=ids, n_records=len(rows), inputs=inputs
    )
    started = time.perf_counter()
    result = bradley_terry_style(battles, np.concatenate(counts), **PARAMS)
    elapsed = int((time.perf_counter() - started) * 1000)
    board = {
        **presentation,
        "style": {**result.style_json(), "tokenizer": TOKENIZER},
    }
    return leaderboard.snapshot_publish(
        method=METHOD,
        source=source,
        category=category,
        data_version=data_version,
        params=PARAMS,
        inputs=inputs,
        board=board,
        ratings=leaderboard._rows(result.ratings, data, rule=rule, withdrawn=withdrawn),
        n_battles=battles.n_battles,
        compute_ms=elapsed,
        force=force,
    )
