"""Battle import and export: the three battle file formats of DESIGN.md.

Import reads with :class:`ranking.battle_files.BattleStream` (the reader shared with the CLI's
:func:`~ranking.battle_files.read_battles`), a block at a time, and writes each block as it is
read inside one transaction, so memory is bounded by a block and a failed import (a malformed
row or an unknown name anywhere in the file) leaves nothing behind:

- a pair-counts file becomes one :class:`PairCount` row per ordered pair (duplicate rows
  for a pair are summed), however many battles it counts;
- battle records (JSON, JSON Lines, CSV) become :class:`Battle` rows (``source=import``),
  written by PostgreSQL ``COPY`` on PostgreSQL and ``bulk_create`` elsewhere
  (:func:`record_writer_default` decides; both store the same rows).

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
behind the public boards. Records are read in chunks of 2,000 (a server-side cursor on
PostgreSQL) and written out in chunks of 1,000 lines, so memory does not grow with the table.
"""

from __future__ import annotations

import contextlib
import csv
import io
import itertools
import json
import queue
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any, TypeVar

import numpy as np
from django.db import ProgrammingError, connection, transaction
from django.db.models import Count, Max, QuerySet, Sum
from django.utils import timezone
from numpy.typing import NDArray

from arena.exceptions import ApplicationError
from arena.models import (
    Battle,
    Competitor,
    ImportBatch,
    KwiseBattle,
    LeaderboardSnapshot,
    PairCount,
    Source,
)
from arena.services import leaderboard
from arena.services.kwise import kwise_battles_store, kwise_records
from ranking._validation import text_problem
from ranking.battle_files import BattleBlock, BattleStream
from ranking.errors import BattleFileError, InputError
from ranking.types import A_WINS, B_WINS, OUTCOMES

T = TypeVar("T")

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
    n_kwise : int
        K-wise records imported (as :class:`KwiseBattle` rows, not counted in ``n_battles``).
    """

    batch_id: int
    kind: str
    n_rows: int
    n_battles: int
    n_stored: int
    skipped: int
    errors: list[dict[str, Any]] = field(default_factory=list)
    created_models: list[str] = field(default_factory=list)
    n_kwise: int = 0


def _error_list(errors: list[tuple[int, str]]) -> list[dict[str, Any]]:
    return [{"line": line, "message": message} for line, message in errors[:MAX_REPORTED_ERRORS]]


def _schedule_rebuild() -> None:
    leaderboard.leaderboard_schedule_rebuild()


@dataclass(frozen=True)
class ImportProgress:
    """How far a running import has got (passed to the ``progress`` callback per block).

    Attributes
    ----------
    n_rows : int
        Data rows read so far.
    n_stored : int
        Rows written so far (battle rows, or pair-count entries buffered for writing).
    skipped : int
        Malformed rows seen so far.
    writer : {"copy", "plain"}
        How battle records are written.
    """

    n_rows: int
    n_stored: int
    skipped: int
    writer: str


def record_writer_default() -> str:
    """How battle records are written on this database: the one place that decides.

    ``copy`` (PostgreSQL ``COPY ... FROM STDIN`` through psycopg) on PostgreSQL, ``plain``
    (``bulk_create`` in blocks of :data:`BULK_SIZE`) elsewhere. Both store the same rows; a
    test compares them on PostgreSQL and ``bench/bench_scale.py`` times both.
    """
    return "copy" if connection.vendor == "postgresql" else "plain"


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
    progress: Callable[[ImportProgress], None] | None = None,
    writer: str | None = None,
) -> ImportReport:
    """Import a battle file, all or nothing (unless ``skip_invalid``).

    The file is read a block at a time (about 1 MiB of JSON Lines or 50,000 CSV rows; a
    JSON array is decoded whole) and each block of records is written as it is read, inside
    one transaction: a malformed row or an unknown model name stops the writing, the rest of
    the file is still read so every error is reported with its line, and the transaction is
    rolled back, so nothing is stored. Memory is bounded by a block, not by the file.

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
    progress : callable or None
        Called with an :class:`ImportProgress` after each block.
    writer : {"copy", "plain"} or None
        How battle records are written; ``None`` lets :func:`record_writer_default` decide
        (``copy`` needs PostgreSQL). For tests and benchmarks that compare the two.

    Notes
    -----
    Records keep their ``tstamp`` when every record of the file has one; otherwise every
    record of the file is stored with the time of the import, so that online methods (which
    read battles in ``(tstamp, id)`` order) take such a file in file order, as DESIGN.md says.

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
    writer = writer or record_writer_default()
    if writer not in RECORD_WRITERS or (writer == "copy" and connection.vendor != "postgresql"):
        raise ApplicationError(
            "Invalid input.",
            field_errors={"writer": [f"Must be plain, or copy on PostgreSQL; got {writer!r}."]},
        )
    try:
        stream = BattleStream(
            source,
            fmt=fmt,  # type: ignore[arg-type]  # checked against IMPORT_FORMATS above
            anonymous_only=anonymous_only,
            max_name_length=NAME_MAX_LENGTH,
            max_category_length=CATEGORY_MAX_LENGTH,
        )
        with transaction.atomic():
            return _import_stream(
                stream,
                filename=filename,
                skip_invalid=skip_invalid,
                create_models=create_models,
                category=category,
                created_by=created_by,
                progress=progress,
                writer=writer,
            )
    except BattleFileError as exc:
        raise ApplicationError(
            f"The file is malformed: {exc}. "
            "Nothing was imported (use skip_invalid to drop bad rows).",
            code="invalid_file",
            extra={"errors": _error_list(exc.errors)},
        ) from None
    except (InputError, UnicodeDecodeError, ValueError) as exc:
        raise ApplicationError(
            f"The file could not be read: {exc}. Nothing was imported.",
            code="invalid_file",
            extra={"errors": []},
        ) from None


class _Names:
    """Competitor ids of the stream's model codes, looked up (or created) once per name."""

    def __init__(self, *, create: bool) -> None:
        self.create = create
        self.ids = np.zeros(0, dtype=np.int64)  # by code; -1 for an unknown name
        self.unknown: list[str] = []
        self.created: list[str] = []

    def update(self, models: tuple[str, ...]) -> None:
        new = list(models[len(self.ids) :])
        if not new:
            return
        found = dict(Competitor.objects.filter(name__in=new).values_list("name", "id"))
        missing = [n for n in new if n not in found]
        if missing and self.create:
            Competitor.objects.bulk_create(
                [
                    Competitor(
                        name=n,
                        kind=Competitor.Kind.SIMULATED,
                        status=Competitor.Status.ACTIVE,
                        description="Created by a battle import.",
                    )
                    for n in missing
                ]
            )
            found.update(Competitor.objects.filter(name__in=missing).values_list("name", "id"))
            self.created += missing
        else:
            self.unknown += missing
        self.ids = np.concatenate(
            [self.ids, np.array([found.get(n, -1) for n in new], dtype=np.int64)]
        )


def _import_stream(
    stream: BattleStream,
    *,
    filename: str,
    skip_invalid: bool,
    create_models: bool,
    category: str,
    created_by: Any,
    progress: Callable[[ImportProgress], None] | None,
    writer: str,
) -> ImportReport:
    """Read and write inside the caller's transaction; raise (and so roll back) on a problem."""
    # Every row this import writes gets a larger id (the primary key bounds its own rows).
    id_before = Battle._base_manager.aggregate(m=Max("id"))["m"] or 0
    batch = ImportBatch.objects.create(
        filename=filename[:255],
        fmt="records",
        created_by=created_by
        if created_by is not None and getattr(created_by, "pk", None)
        else None,
    )
    names = _Names(create=create_models)
    pair_totals: dict[tuple[int, int], list[int]] = {}
    n_battles = n_stored = 0
    now = timezone.now()
    models: tuple[str, ...] = ()
    some_without_tstamp = False
    n_kwise = 0
    for block in read_ahead(stream):
        models = block.models
        names.update(models)
        if (stream.n_errors and not skip_invalid) or names.unknown:
            continue  # the import fails: read on only to report every problem
        if block.kwise:
            code = {name: int(names.ids[i]) for i, name in enumerate(models)}
            n_kwise += kwise_battles_store(
                block.kwise, ids=code, batch_id=batch.pk, category=category, now=now
            )
        if not len(block):
            continue
        if block.weight is not None:
            n_battles += _add_pair_counts(pair_totals, block)
            n_stored = len(pair_totals)
        else:
            n_stored += RECORD_WRITERS[writer](
                block, ids=names.ids, batch_id=batch.pk, category=category, now=now
            )
            n_battles = n_stored
            some_without_tstamp |= block.tstamp is not None and bool(np.isnan(block.tstamp).any())
        if progress is not None:
            progress(ImportProgress(stream.n_rows, n_stored, stream.n_errors, writer))
    if not skip_invalid:
        stream.check()
    errors = _error_list(stream.errors)
    if names.unknown:
        unknown = names.unknown
        shown = ", ".join(unknown[:10]) + (
            f" and {len(unknown) - 10} more" if len(unknown) > 10 else ""
        )
        raise ApplicationError(
            f"{len(unknown)} model name(s) are not registered competitors: {shown}. "
            "Register them first or import with create_models=true.",
            code="unknown_models",
            field_errors={"models": [f"Unknown model: {n}" for n in unknown[:MAX_REPORTED_ERRORS]]},
        )
    if n_battles == 0 and n_kwise == 0:
        raise ApplicationError(
            f"The file holds no valid battles ({stream.n_rows} rows read, "
            f"{stream.n_errors} skipped).",
            code="empty_file",
            extra={"errors": errors},
        )
    pairs = stream.weighted
    if pairs:
        n_stored = _store_pair_counts(
            pair_totals, models=models, ids=names.ids, batch=batch, category=category
        )
    if some_without_tstamp:
        # Incomplete timestamps: the whole file takes the import time (file order). The rows
        # are this transaction's own and nobody has seen them yet, hence the base manager.
        Battle._base_manager.filter(id__gt=id_before, batch_id=batch.pk).update(tstamp=now)
    batch.fmt = "pairs" if pairs else "records"
    batch.n_rows = stream.n_rows
    batch.n_battles = n_battles
    batch.skipped = stream.n_errors
    batch.save(update_fields=["fmt", "n_rows", "n_battles", "skipped"])
    transaction.on_commit(_schedule_rebuild)
    return ImportReport(
        batch_id=batch.pk,
        kind=batch.fmt,
        n_rows=stream.n_rows,
        n_battles=n_battles,
        n_stored=n_stored,
        skipped=stream.n_errors,
        errors=errors,
        created_models=sorted(names.created),
        n_kwise=n_kwise,
    )


def read_ahead(items: Iterable[T], *, depth: int = 2) -> Iterator[T]:
    """``items`` in order, produced by a thread of their own up to ``depth`` ahead.

    The import's reader is pure Python and its writer waits on the database (psycopg releases
    the GIL while it waits), so the next block is parsed while PostgreSQL stores this one. An
    exception raised by ``items`` is raised here, in order; leaving the loop early (an error
    while writing) stops the thread at its next item.
    """
    slots: queue.Queue[tuple[bool, Any]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: tuple[bool, Any]) -> bool:
        while not stop.is_set():
            try:
                slots.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put((False, item)):
                    return
        except BaseException as exc:  # noqa: BLE001 - re-raised in the consuming thread
            put((True, exc))
            return
        put((True, None))

    thread = threading.Thread(target=produce, name="import-read-ahead", daemon=True)
    thread.start()
    try:
        while True:
            done, value = slots.get()
            if done:
                if value is not None:
                    raise value
                return
            yield value
    finally:
        stop.set()
        thread.join()


def _add_pair_counts(totals: dict[tuple[int, int], list[int]], block: BattleBlock) -> int:
    """Sum a block of pair counts into ``totals`` (by model code); return the battles added."""
    # Summed as Python integers: each count is exact (at most 2**53), and so is their sum.
    assert block.weight is not None
    slot = {A_WINS: 0, B_WINS: 1}
    added = 0
    for a, b, o, w in zip(
        block.a.tolist(),
        block.b.tolist(),
        block.outcome.tolist(),
        block.weight.tolist(),
        strict=True,
    ):
        totals.setdefault((a, b), [0, 0, 0])[slot.get(o, 2)] += int(w)
        added += int(w)
    return added


def _store_pair_counts(
    totals: dict[tuple[int, int], list[int]],
    *,
    models: tuple[str, ...],
    ids: np.ndarray,
    batch: ImportBatch,
    category: str,
) -> int:
    too_big = next((pair for pair, row in totals.items() if max(row) > BIGINT_MAX), None)
    if too_big is not None:
        a, b = (models[i] for i in too_big)
        raise ApplicationError(
            f"The counts of {a} against {b} add up to more than {BIGINT_MAX}. "
            "Nothing was imported.",
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
        for (a, b), (wins_a, wins_b, ties) in sorted(
            totals.items(), key=lambda kv: (models[kv[0][0]], models[kv[0][1]])
        )
    ]
    PairCount.objects.bulk_create(rows, batch_size=BULK_SIZE)
    return len(rows)


@dataclass(frozen=True)
class _RecordColumns:
    """The per-row values both record writers store: the one definition of a stored record."""

    a_ids: NDArray[np.int64]
    b_ids: NDArray[np.int64]
    outcomes: list[str]
    categories: list[str]
    anony: NDArray[np.bool_]
    micros: NDArray[np.int64]  # tstamp, microseconds since the epoch (UTC)
    meta: list[Any]


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_OUTCOME_NAMES = np.array(OUTCOMES, dtype=object)


def record_micros(tstamp: NDArray[np.float64], *, now: datetime) -> NDArray[np.int64]:
    """Each ``tstamp`` (seconds) as integer microseconds since the epoch, rounded exactly as
    ``datetime.fromtimestamp`` rounds (CPython's half-to-even on the fraction, carrying into
    the second); NaN (a record without one) becomes ``now``. The reader keeps a ``tstamp``
    within 1970 to 9999, so it is non-negative and its whole seconds are exact in a float."""
    missing = np.isnan(tstamp)
    fraction, whole = np.modf(np.where(missing, 0.0, tstamp))
    micros = np.rint(fraction * 1e6)
    carry = micros >= 1e6
    out = (whole + carry).astype(np.int64) * 1_000_000 + np.where(
        carry, micros - 1e6, micros
    ).astype(np.int64)
    out[missing] = (now - _EPOCH) // timedelta(microseconds=1)
    return out


def _record_columns(
    block: BattleBlock, *, ids: np.ndarray, category: str, now: datetime
) -> _RecordColumns:
    assert block.tstamp is not None and block.anony is not None and block.category is not None
    return _RecordColumns(
        a_ids=ids[block.a],
        b_ids=ids[block.b],
        outcomes=_OUTCOME_NAMES[block.outcome].tolist(),
        categories=[c or category for c in block.category.tolist()],
        anony=block.anony,
        micros=record_micros(block.tstamp, now=now),
        meta=(
            block.conv_metadata.tolist()
            if block.conv_metadata is not None
            else [None] * len(block.a)
        ),
    )


def _write_records_plain(
    block: BattleBlock, *, ids: np.ndarray, batch_id: int, category: str, now: datetime
) -> int:
    """``bulk_create`` in blocks of :data:`BULK_SIZE`: any database."""
    cols = _record_columns(block, ids=ids, category=category, now=now)
    Battle.objects.bulk_create(
        [
            Battle(
                model_a_id=a,
                model_b_id=b,
                outcome=o,
                source=Source.IMPORT,
                category=c,
                anony=an,
                tstamp=_EPOCH + timedelta(microseconds=us),
                batch_id=batch_id,
                conv_metadata=cm,
            )
            for a, b, o, c, an, us, cm in zip(
                cols.a_ids.tolist(),
                cols.b_ids.tolist(),
                cols.outcomes,
                cols.categories,
                cols.anony.tolist(),
                cols.micros.tolist(),
                cols.meta,
                strict=True,
            )
        ],
        batch_size=BULK_SIZE,
    )
    return len(cols.outcomes)


_COPY_COLUMNS = (
    "model_a_id",
    "model_b_id",
    "outcome",
    "source",
    "category",
    "anony",
    "judge",
    "tstamp",
    "batch_id",
    "conv_metadata",
)


def _copy_text(value: str) -> str:
    """``value`` as a field of COPY's text format (the reader refuses control characters)."""
    return value.replace("\\", "\\\\")


def _copy_data(cols: _RecordColumns, *, batch_id: int) -> bytes:
    """The records in COPY's text format (columns :data:`_COPY_COLUMNS`), built a column at a
    time: the numbers and timestamps formatted by numpy."""
    escaped = {c: _copy_text(c) for c in set(cols.categories)}
    stamps = np.datetime_as_string(
        cols.micros.astype("datetime64[us]"), unit="us", timezone="UTC"
    ).tolist()
    meta = ["\\N" if cm is None else _copy_text(json.dumps(cm)) for cm in cols.meta]
    lines = map(
        "\t".join,
        zip(
            cols.a_ids.astype(str).tolist(),
            cols.b_ids.astype(str).tolist(),
            cols.outcomes,
            itertools.repeat(_copy_text(str(Source.IMPORT))),
            [escaped[c] for c in cols.categories],
            np.where(cols.anony, "t", "f").tolist(),
            itertools.repeat(""),  # judge
            stamps,
            itertools.repeat(str(batch_id)),
            meta,
            strict=False,  # the repeated constants are endless
        ),
    )
    return ("\n".join(lines) + "\n").encode("utf-8")


@contextlib.contextmanager
def _checked_by_the_import(cursor: Any, competitor_ids: Sequence[int]) -> Iterator[None]:
    """Inside the block, the foreign keys of the rows written are checked here, not per row.

    PostgreSQL checks each foreign key of each row with a query of its own (three per battle
    record: both competitors and the batch; about two thirds of the database's time in a
    large import, run at commit). When this role may set ``session_replication_role`` (a
    superuser, or ``GRANT SET ON PARAMETER session_replication_role``, PostgreSQL 15+), those
    per-row checks are off for the block and it does what they do once for the block: every
    competitor id must exist, and is locked ``FOR KEY SHARE`` until commit so it cannot be
    deleted (the batch is this transaction's own row). Otherwise the rows are checked as
    always.
    """
    try:
        with transaction.atomic():  # a savepoint: a refused SET must not abort the import
            cursor.execute("SET LOCAL session_replication_role = replica")
    except ProgrammingError:  # insufficient_privilege: PostgreSQL checks every row
        yield
        return
    try:
        table = connection.ops.quote_name(Competitor._meta.db_table)
        wanted = sorted(set(competitor_ids))
        # the table name from the model; the ids are a parameter
        cursor.execute(
            f"SELECT id FROM {table} WHERE id = ANY(%s) FOR KEY SHARE",  # noqa: S608
            [wanted],
        )
        found = {row[0] for row in cursor.fetchall()}
        if len(found) != len(wanted):
            missing = sorted(set(wanted) - found)
            raise ApplicationError(
                f"Competitor(s) {missing[:10]} no longer exist. Nothing was imported.",
                code="unknown_models",
            )
        yield
    finally:
        cursor.execute("SET LOCAL session_replication_role = origin")


def _write_records_copy(
    block: BattleBlock, *, ids: np.ndarray, batch_id: int, category: str, now: datetime
) -> int:
    """PostgreSQL ``COPY ... FROM STDIN`` (text format): one statement per block, its foreign
    keys checked once for the block where the role may (:func:`_checked_by_the_import`)."""
    cols = _record_columns(block, ids=ids, category=category, now=now)
    table = connection.ops.quote_name(Battle._meta.db_table)
    columns = ", ".join(connection.ops.quote_name(c) for c in _COPY_COLUMNS)
    competitors = np.unique(np.concatenate([cols.a_ids, cols.b_ids])).tolist()
    with connection.cursor() as cursor, _checked_by_the_import(cursor, competitors):
        raw = cursor.cursor  # the psycopg cursor under Django's wrapper
        with raw.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
            copy.write(_copy_data(cols, batch_id=batch_id))
    return len(cols.outcomes)


RECORD_WRITERS: dict[str, Callable[..., int]] = {
    "copy": _write_records_copy,
    "plain": _write_records_plain,
}


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


def _kwise_selection(
    *, source: str | None, category: str | None, excluded: list[int] | None = None
) -> QuerySet[KwiseBattle]:
    from arena.services.kwise_board import kwise_scope

    return kwise_scope(
        source=source or "combined",
        category=category or leaderboard.ALL_CATEGORIES,
        excluded=excluded or [],
    )


def _snapshot_selection(
    snapshot: int, fmt: str
) -> tuple[QuerySet[Battle], QuerySet[PairCount], QuerySet[KwiseBattle] | None]:
    row = LeaderboardSnapshot.objects.filter(id=snapshot).values("inputs").first()
    if row is None:
        raise _invalid("snapshot", f"No leaderboard snapshot has id {snapshot}.", status=404)
    inputs = row["inputs"]
    if inputs and "kwise_upto" in inputs:  # a K-wise board: its K-wise records only
        if fmt != "jsonl":
            raise _invalid(
                "format",
                f"Snapshot {snapshot} is a K-wise board; K-wise records have a JSON Lines form "
                "only: use format=jsonl.",
            )
        kwise = _kwise_selection(
            source=inputs["source"],
            category=inputs["category"],
            excluded=inputs.get("excluded_competitors"),
        ).filter(id__lte=inputs["kwise_upto"])
        return Battle.objects.none(), PairCount.objects.none(), kwise
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
    return battles, pair_counts, None


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
        ``category``. A snapshot that used imported pair counts is exported as ``pairs``, a
        K-wise board's as its K-wise records (``jsonl`` only).

    JSON Lines exports end with the K-wise records of the same selection (K-wise votes have
    no CSV or pair-count form, so ``csv`` and ``pairs`` leave them out).

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
        battles, pair_counts, kwise = _snapshot_selection(snapshot, fmt)
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
        kwise = _kwise_selection(source=source, category=category)
    return _export_chunks(
        fmt=fmt, battles=battles, pair_counts=pair_counts, fields=_RECORD_FIELDS, kwise=kwise
    )


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
        fmt=fmt,
        battles=battles,
        pair_counts=PairCount.objects.none(),
        fields=_PUBLIC_FIELDS,
        kwise=_kwise_selection(source=Source.HUMAN, category=None, excluded=private),
        kwise_source=False,
    )


def _export_chunks(
    *,
    fmt: str,
    battles: QuerySet[Battle],
    pair_counts: QuerySet[PairCount],
    fields: tuple[str, ...],
    kwise: QuerySet[KwiseBattle] | None = None,
    kwise_source: bool = True,
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
    if fmt == "jsonl" and kwise is not None and kwise.exists():
        for record in kwise_records(kwise, with_source=kwise_source):
            chunk.append(json.dumps(record, ensure_ascii=False) + "\n")
            if len(chunk) >= 1000:
                yield "".join(chunk)
                chunk = []
    if chunk:
        yield "".join(chunk)
