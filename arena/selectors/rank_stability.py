"""The rank-stability report between two boards: one read for the page and the API.

A board is named by a key: ``main`` (the Bradley-Terry board of all sources), ``human``,
``judge`` or ``import`` (the Bradley-Terry board of that source), or ``run:<id>`` (a finished
judge run's board). All are over all categories.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from arena.exceptions import ApplicationError
from arena.models import JudgeRun, LeaderboardSnapshot
from arena.services.leaderboard import ALL_CATEGORIES
from ranking.rank_stability import rank_stability

#: Source boards by key, with their labels.
SOURCE_BOARDS: dict[str, tuple[str, str]] = {
    "main": ("combined", "Main board (all sources)"),
    "human": ("human", "Human votes"),
    "judge": ("judge", "LLM judges (the matches' own)"),
    "import": ("import", "Imported battles"),
}
METHODOLOGY = (
    "Over the models both boards rate. Kendall's tau-b between the two boards' ratings with a "
    "{confidence:.0%} interval ({interval}); coverage checked in simulation "
    "(tests/ranking/test_rank_stability.py). Rank moves: ordinal ranks among the common models "
    "(1 + the number rated strictly higher) on each board. A pair flips when its strict order "
    "is opposite on the two boards; the flip is significant when each board's intervals "
    "separate the pair (the higher model's lower bound above the other's upper bound)."
)


def _snapshot(source: str) -> LeaderboardSnapshot | None:
    return (
        LeaderboardSnapshot.objects.filter(method="bt", source=source, category=ALL_CATEGORIES)
        .order_by("-version")
        .first()
    )


def board_choices() -> list[dict[str, str]]:
    """The boards that can be compared now: source boards with a snapshot, finished runs."""
    out = [
        {"key": key, "label": label}
        for key, (source, label) in SOURCE_BOARDS.items()
        if _snapshot(source) is not None
    ]
    for run_id, name in (
        JudgeRun.objects.filter(status=JudgeRun.Status.DONE)
        .order_by("-created_at", "-id")
        .values_list("id", "name")
    ):
        out.append({"key": f"run:{run_id}", "label": f"Judge run {name}"})
    return out


def board_read(*, key: str, field: str) -> tuple[str, dict[str, tuple[float, Any, Any]]]:
    """A board's label and ``model -> (rating, lower, upper)``; 400 naming ``field`` if unknown."""
    rows: list[dict[str, Any]] | None = None
    label = ""
    if key in SOURCE_BOARDS:
        source, label = SOURCE_BOARDS[key]
        snapshot = _snapshot(source)
        rows = snapshot.ratings if snapshot is not None else None
        if rows is None:
            raise ApplicationError(
                "No such board.", field_errors={field: [f"the {key!r} board has no snapshot yet"]}
            )
    elif key.startswith("run:") and key[4:].isdigit():
        run = JudgeRun.objects.filter(id=int(key[4:])).only("name", "status", "board").first()
        if run is None or run.status != JudgeRun.Status.DONE:
            raise ApplicationError(
                "No such board.",
                field_errors={field: [f"no finished judge run with id {key[4:]}"]},
            )
        label, rows = f"Judge run {run.name}", list(run.board.get("ratings", []))
    else:
        raise ApplicationError(
            "No such board.",
            field_errors={
                field: [f"must be one of {', '.join(SOURCE_BOARDS)} or run:<id>; got {key!r}"]
            },
        )
    return label, {r["model"]: (r["rating"], r["lower"], r["upper"]) for r in rows}


def stability_report(*, a: str, b: str, top: int = 10) -> dict[str, Any]:
    """Kendall's tau with its interval, the largest rank moves and the flipped pairs of two
    boards (see :func:`ranking.rank_stability.rank_stability`)."""
    label_a, board_a = board_read(key=a, field="a")
    label_b, board_b = board_read(key=b, field="b")
    report = rank_stability(board_a, board_b, top=top)
    flips = [{**asdict(f), "significant": f.significant} for f in report.flips]
    return {
        "a": {"key": a, "label": label_a},
        "b": {"key": b, "label": label_b},
        "models": len(report.models),
        "only_a": list(report.only_a),
        "only_b": list(report.only_b),
        "n_pairs": report.n_pairs,
        "tau": report.tau,
        "tau_lower": report.tau_lower,
        "tau_upper": report.tau_upper,
        "confidence": report.confidence,
        "moves": [asdict(m) for m in report.moves],
        "flips": flips,
        "n_flips": len(flips),
        "n_significant_flips": sum(f["significant"] for f in flips),
        "methodology": METHODOLOGY.format(
            confidence=report.confidence, interval=report.interval_method
        ),
    }


__all__ = ["SOURCE_BOARDS", "board_choices", "board_read", "stability_report"]
