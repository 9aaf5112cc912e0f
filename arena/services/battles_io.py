"""Battle import and export: the three battle file formats of DESIGN.md.

Import reads with :func:`ranking.battle_files.read_battles` (the one reader shared by the CLI, the
management command and the API) and writes in one transaction, so a failed import leaves
nothing behind:

- a pair-counts file becomes one :class:`PairCount` row per ordered pair (duplicate rows
  for a pair are summed), however many battles it counts;
- battle records (JSON, JSON Lines, CSV) become :class:`Battle` rows (``source=import``),
  written with ``bulk_create``.

Unknown model names are refused unless ``create_models`` is set; then they are created as
active ``simulated``-kind competitors without an owner (an admin can edit them later).
A record keeps its own ``anony``, ``category`` and ``conv_metadata`` (LMArena's style counts,
stored as read); the ``category`` given to the import is
only the default for records without one (and the category of pair counts). The reader
refuses, with line numbers, what the database could not hold: names longer than a
competitor's name or with control characters, counts above ``MAX_COUNT``, a ``tstamp``
outside 1970 to 9999.

Export streams ``Battle`` rows as JSON Lines or CSV records (DESIGN.md's record shape), or
everything (imported pair counts included) aggregated per pair as a pair-counts CSV; or
exactly the battles behind one leaderboard snapshot; or, for anyone, the rated human votes
behind the public boards.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import numpy as np
from django.db import transaction
from django.db.models import Count, QuerySet, Sum
from django.utils import timezone

from arena.exceptions import ApplicationError
from arena.models import Battle, Competitor, ImportBatch, LeaderboardSnapshot, PairCount, Source
from arena.services import leaderboard
from ranking._validation import text_problem
from ranking.battle_files import read_battles
from ranking.errors import BattleFileError, InputError
from ranking.types import A_WINS, B_WINS, OUTCOMES

IMPORT_FORMATS = ("auto", "jsonl", "json", "csv", "pairs")
EXPORT_FORMATS = ("jsonl", "csv", "pairs")
MAX_REPORTED_ERRORS = 20
BULK_SIZE = 5000
CATEGORY_MAX_LENGTH = 50
NAME_MAX_LENGTH = Competitor._meta.get_field("name").max_length
#: Largest value a PostgreSQL ``bigint`` (``PairCount`` counts) holds.
BIGINT_MAX = 2**63 - 1


@dataclass(frozen=True)
class ImportReport:
    """What an import did.

    Attributes
    ----------
    batch_id : int
        The :class:`ImportBatch` audit row.
    kind : {"pairs", "records"}
        Pair counts (stored as :class:`PairCount`) or individual battles.
    n_rows : int
        Data rows read.
    n_battles : int
        Battles imported (the sum of the counts for a pair-counts file).
    n_stored : int
        Database rows written (pair-count rows or battle rows).
    skipped : int
        Malformed rows dropped (only with ``skip_invalid``).
    errors : list of dict
        The first malformed rows, ``{"line": n, "message": ...}``.
    created_models : list of str
        Competitors created because ``create_models`` was set.
    """

    batch_id: int
    kind: str
    n_rows: int
    n_battles: int
    n_stored: int
    skipped: int
    errors: list[dict[str, Any]] = field(default_factory=list)
    created_models: list[str] = field(default_factory=list)


def _error_list(errors: list[tuple[int, str]]) -> list[dict[str, Any]]:
    return [{"line": line, "message": message} for line, message in errors[:MAX_REPORTED_ERRORS]]


def _schedule_rebuild() -> None:
    leaderboard.leaderboard_schedule_rebuild()


def battles_import(
    *,
    source: str | Path | IO[bytes] | IO[str],
    filename: str = "",
    fmt: str = "auto",
    skip_invalid: bool = False,
    create_models: bool = False,
    anonymous_only: bool = False,
    category: str = "general",
    created_by: Any = None,
) -> ImportReport:
    """Import a battle file, all or nothing (unless ``skip_invalid``).

    Parameters
    ----------
    source : path or binary/text file object
        Read as a stream; a pair-counts file of any total count costs one row per pair.
    filename : str
        Recorded on the :class:`ImportBatch`.
    fmt : {"auto", "jsonl", "json", "csv", "pairs"}
        ``auto`` detects the format from the content.
    skip_invalid : bool
        Drop malformed rows (they are counted and the first are reported) instead of failing.
    create_models : bool
        Create unknown model names as competitors instead of refusing the file.
    anonymous_only : bool
        Keep only records whose ``anony`` is true.
    category : str
        Category of pair counts and of records without their own.
    created_by : User or None
        Who imported (audit).

    Raises
    ------
    ApplicationError
        ``invalid_file`` (with ``errors``: line numbers and messages), ``unknown_models``,
        ``empty_file`` or a field error on ``fmt``/``category``; nothing is written then.
    """
    if fmt not in IMPORT_FORMATS:
        raise ApplicationError(
            "Invalid input.",
            field_errors={"fmt": [f"Must be one of {', '.join(IMPORT_FORMATS)}; got {fmt!r}."]},
        )
    category = (category or "general").strip()
    problem = (
        text_problem(category, max_length=CATEGORY_MAX_LENGTH) if category else "must not be blank"
    )
    if problem:
        raise ApplicationError(
            "Invalid input.", field_errors={"category": [f"Category {problem}."]}
        )
    try:
        result = read_battles(
            source,
            fmt=fmt,  # type: ignore[arg-type]  # checked against IMPORT_FORMATS above
            skip_invalid=skip_invalid,
            anonymous_only=anonymous_only,
            max_name_length=NAME_MAX_LENGTH,
            max_category_length=CATEGORY_MAX_LENGTH,
        )
    except BattleFileError as exc:
        raise ApplicationError(
            f"The file is malformed: {exc}. Nothing was imported (use skip_invalid to drop bad rows).",
            code="invalid_file",
            extra={"errors": _error_list(exc.errors)},
        ) from None
    except (InputError, UnicodeDecodeError, ValueError) as exc:
        raise ApplicationError(
            f"The file could not be read: {exc}. Nothing was imported.",
            code="invalid_file",
            extra={"errors": []},
        ) from None
    battles = result.battles
    if len(battles) == 0:
        raise ApplicationError(
            f"The file holds no valid battles ({result.n_rows} rows read, {result.skipped} skipped).",
            code="empty_file",
            extra={"errors": _error_list(result.errors)},
        )
    names = list(battles.models)
    existing = dict(Competitor.objects.filter(name__in=names).values_list("name", "id"))
    unknown = [n for n in names if n not in existing]
    if unknown and not create_models:
        shown = ", ".join(unknown[:10]) + (
            f" and {len(unknown) - 10} more" if len(unknown) > 10 else ""
        )
        raise ApplicationError(
            f"{len(unknown)} model name(s) are not registered competitors: {shown}. "
            "Register them first or import with create_models=true.",
            code="unknown_models",
            field_errors={"models": [f"Unknown model: {n}" for n in unknown[:MAX_REPORTED_ERRORS]]},
        )
    pairs = battles.weight is not None
    with transaction.atomic():
        if unknown:
            Competitor.objects.bulk_create(
                [
                    Competitor(
                        name=n,
                        kind=Competitor.Kind.SIMULATED,
                        status=Competitor.Status.ACTIVE,
                        description="Created by a battle import.",
                    )
                    for n in unknown
                ]
            )
            existing.update(Competitor.objects.filter(name__in=unknown).values_list("name", "id"))
        ids = np.array([existing[n] for n in names], dtype=np.int64)
        batch = ImportBatch.objects.create(
            filename=filename[:255],
            fmt="pairs" if pairs else "records",
            created_by=created_by
            if created_by is not None and getattr(created_by, "pk", None)
            else None,
            n_rows=result.n_rows,
            n_battles=battles.n_battles,
            skipped=result.skipped,
        )
        if pairs:
            n_stored = _store_pair_counts(battles, ids=ids, batch=batch, category=category)
        else:
            n_stored = _store_records(result, ids=ids, batch=batch, category=category)
        transaction.on_commit(_schedule_rebuild)
    return ImportReport(
        batch_id=batch.pk,
        kind=batch.fmt,
        n_rows=result.n_rows,
        n_battles=battles.n_battles,
        n_stored=n_stored,
        skipped=result.skipped,
        errors=_error_list(result.errors),
        created_models=unknown,
    )


def _store_pair_counts(battles: Any, *, ids: np.ndarray, batch: ImportBatch, category: str) -> int:
    # Summed as Python integers: each count is exact (at most 2**53), and so is their sum.
    totals: dict[tuple[int, int], list[int]] = {}
    slot = {A_WINS: 0, B_WINS: 1}
    for a, b, o, w in zip(
        battles.a.tolist(),
        battles.b.tolist(),
        battles.outcome.tolist(),
        battles.weight.tolist(),
        strict=True,
    ):
        totals.setdefault((a, b), [0, 0, 0])[slot.get(o, 2)] += int(w)
    too_big = next((pair for pair, row in totals.items() if max(row) > BIGINT_MAX), None)
    if too_big is not None:
        a, b = (battles.models[i] for i in too_big)
        raise ApplicationError(
            f"The counts of {a} against {b} add up to more than {BIGINT_MAX}. Nothing was imported.",
            code="invalid_file",
            extra={"errors": []},
        )
    rows = [
        PairCount(
            batch=batch,
            model_a_id=int(ids[a]),
            model_b_id=int(ids[b]),
            wins_a=wins_a,
            wins_b=wins_b,
            ties=ties,
            category=category,
        )
        for (a, b), (wins_a, wins_b, ties) in totals.items()
    ]
    PairCount.objects.bulk_create(rows, batch_size=BULK_SIZE)
    return len(rows)


def _store_records(result: Any, *, ids: np.ndarray, batch: ImportBatch, category: str) -> int:
    battles = result.battles
    now = timezone.now()
    a_ids = ids[battles.a].tolist()
    b_ids = ids[battles.b].tolist()
    outcomes = [OUTCOMES[o] for o in battles.outcome.tolist()]
    stamps = (
        [datetime.fromtimestamp(t, tz=UTC) for t in battles.tstamp.tolist()]
        if battles.tstamp is not None
        else None
    )
    anony = result.anony.tolist()
    categories = [c or category for c in result.category.tolist()]
    conv_metadata = result.conv_metadata.tolist()
    total = len(battles)
    for start in range(0, total, BULK_SIZE):
        stop = min(start + BULK_SIZE, total)
        Battle.objects.bulk_create(
            [
                Battle(
                    model_a_id=a_ids[i],
                    model_b_id=b_ids[i],
                    outcome=outcomes[i],
                    source=Source.IMPORT,
                    category=categories[i],
                    anony=anony[i],
                    tstamp=stamps[i] if stamps is not None else now,
                    batch=batch,
                    conv_metadata=conv_metadata[i],
                )
                for i in range(start, stop)
            ]
        )
    return total


# --------------------------------------------------------------------------- export

_RECORD_FIELDS = (
    "model_a",
    "model_b",
    "winner",
    "tstamp",
    "anony",
    "judge",
    "category",
    "source",
    "conv_metadata",
)
_PUBLIC_FIELDS = ("model_a", "model_b", "winner", "tstamp", "anony", "category", "conv_metadata")


def _battle_rows(
    qs: QuerySet[Battle], *, fields: tuple[str, ...] = _RECORD_FIELDS
) -> Iterator[dict[str, Any]]:
    names = dict(Competitor.objects.values_list("id", "name"))
    columns = (
        "model_a_id",
        "model_b_id",
        "outcome",
        "tstamp",
        "anony",
        "judge",
        "category",
        "source",
        "conv_metadata",
    )
    for a, b, outcome, tstamp, anony, judge, cat, src, meta in (
        qs.order_by("id").values_list(*columns).iterator(chunk_size=2000)
    ):
        row = {
            "model_a": names.get(a, str(a)),
            "model_b": names.get(b, str(b)),
            "winner": outcome,
            "tstamp": tstamp.timestamp(),  # exact: online methods order by it
            "anony": anony,
            "judge": judge,
            "category": cat,
            "source": src,
            "conv_metadata": meta,
        }
        yield {f: row[f] for f in fields}


def _pair_rows(
    qs: QuerySet[Battle], pair_counts: QuerySet[PairCount]
) -> Iterator[tuple[str, str, int, int, int]]:
    names = dict(Competitor.objects.values_list("id", "name"))
    totals: dict[tuple[int, int], list[int]] = {}
    for a, b, outcome, n in (
        qs.values_list("model_a_id", "model_b_id", "outcome").annotate(n=Count("id")).order_by()
    ):
        slot = 0 if outcome == "model_a" else 1 if outcome == "model_b" else 2
        totals.setdefault((a, b), [0, 0, 0])[slot] += n
    for a, b, wa, wb, t in (
        pair_counts.values_list("model_a_id", "model_b_id")
        .annotate(wa=Sum("wins_a"), wb=Sum("wins_b"), t=Sum("ties"))
        .order_by()
    ):
        row = totals.setdefault((a, b), [0, 0, 0])
        row[0] += wa
        row[1] += wb
        row[2] += t
    for (a, b), (wa, wb, t) in sorted(
        totals.items(), key=lambda kv: (names.get(kv[0][0], ""), names.get(kv[0][1], ""))
    ):
        yield names.get(a, str(a)), names.get(b, str(b)), wa, wb, t


def _csv_value(name: str, value: Any) -> Any:
    """A record field as a CSV cell: ``anony`` as true/false, ``conv_metadata`` as JSON text."""
    if name == "anony":
        return str(value).lower()
    if name == "conv_metadata":
        return "" if value is None else json.dumps(value, ensure_ascii=False)
    return value


def _csv_line(values: Any) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(values)
    return buffer.getvalue()


def _invalid(field_name: str, message: str, *, status: int = 400) -> ApplicationError:
    return ApplicationError("Invalid input.", field_errors={field_name: [message]}, status=status)


def _snapshot_selection(snapshot: int, fmt: str) -> tuple[QuerySet[Battle], QuerySet[PairCount]]:
    row = LeaderboardSnapshot.objects.filter(id=snapshot).values("inputs").first()
    if row is None:
        raise _invalid("snapshot", f"No leaderboard snapshot has id {snapshot}.", status=404)
    inputs = row["inputs"]
    if not inputs:
        raise _invalid(
            "snapshot",
            f"Snapshot {snapshot} was published before snapshots recorded which battles they used; "
            "its battles cannot be selected exactly.",
        )
    battles = leaderboard.scope_battles(inputs)
    pair_counts = leaderboard.scope_pair_counts(inputs)
    if fmt != "pairs" and pair_counts.exists():
        raise _invalid(
            "format",
            f"Snapshot {snapshot} used imported pair counts, which have no individual records: "
            "use format=pairs.",
        )
    return battles, pair_counts


def battles_export(
    *,
    fmt: str = "jsonl",
    source: str | None = None,
    category: str | None = None,
    snapshot: int | None = None,
) -> Iterator[str]:
    """Stream battles as text chunks.

    Parameters
    ----------
    fmt : {"jsonl", "csv", "pairs"}
        JSON Lines or CSV records of the stored battles (DESIGN.md record shape, plus
        ``source``), or a pair-counts CSV of everything, imported pair counts included.
    source : {"human", "judge", "import"} or None
    category : str or None
    snapshot : int or None
        A :class:`LeaderboardSnapshot` id: exactly the battles that snapshot was computed from
        (its recorded ``inputs``), whatever arrived since; not combined with ``source`` or
        ``category``. A snapshot that used imported pair counts is exported as ``pairs``.

    Raises
    ------
    ApplicationError
        An unknown format, source or snapshot (raised before the first chunk).
    """
    if fmt not in EXPORT_FORMATS:
        raise _invalid("format", f"Must be one of {', '.join(EXPORT_FORMATS)}; got {fmt!r}.")
    valid_sources = [s for s, _ in Source.choices]
    if source and source not in valid_sources:
        raise _invalid("source", f"Must be one of {', '.join(valid_sources)}; got {source!r}.")
    if snapshot is not None:
        if source or category:
            raise _invalid(
                "snapshot", "A snapshot names its own source and category; do not combine them."
            )
        battles, pair_counts = _snapshot_selection(snapshot, fmt)
    else:
        battles = Battle.objects.all()
        if source:
            battles = battles.filter(source=source)
        if category:
            battles = battles.filter(category=category)
        pair_counts = PairCount.objects.none()
        if source in (None, "", Source.IMPORT):
            pair_counts = (
                PairCount.objects.filter(category=category) if category else PairCount.objects.all()
            )
    return _export_chunks(fmt=fmt, battles=battles, pair_counts=pair_counts, fields=_RECORD_FIELDS)


def battles_export_public(*, fmt: str = "jsonl") -> Iterator[str]:
    """Stream the rated human votes behind the public boards: anyone may download them.

    One record per rated vote between public competitors: model identities, outcome,
    category, time and whether it was anonymous; no voter identity. Private competitors
    never appear.
    """
    if fmt not in ("jsonl", "csv"):
        raise _invalid("format", f"Must be one of jsonl, csv; got {fmt!r}.")
    private = leaderboard.private_competitor_ids()
    battles = (
        Battle.objects.filter(source=Source.HUMAN)
        .exclude(model_a_id__in=private)
        .exclude(model_b_id__in=private)
    )
    return _export_chunks(
        fmt=fmt, battles=battles, pair_counts=PairCount.objects.none(), fields=_PUBLIC_FIELDS
    )


def _export_chunks(
    *,
    fmt: str,
    battles: QuerySet[Battle],
    pair_counts: QuerySet[PairCount],
    fields: tuple[str, ...],
) -> Iterator[str]:
    if fmt == "pairs":
        yield "model_a,model_b,wins_a,wins_b,ties\n"
        for pair in _pair_rows(battles, pair_counts):
            yield _csv_line(pair)
        return
    if fmt == "csv":
        yield ",".join(fields) + "\n"
    chunk: list[str] = []
    for row in _battle_rows(battles, fields=fields):
        if fmt == "jsonl":
            if row.get("conv_metadata") is None:  # a battle without style counts has no key
                row.pop("conv_metadata", None)
            chunk.append(json.dumps(row, ensure_ascii=False) + "\n")
        else:
            chunk.append(_csv_line([_csv_value(f, row[f]) for f in fields]))
        if len(chunk) >= 1000:
            yield "".join(chunk)
            chunk = []
    if chunk:
        yield "".join(chunk)
