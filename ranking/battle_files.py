"""Readers and the writer of DESIGN.md's battle file formats.

Three formats are read (DESIGN.md, "Battle files"):

1. battle records as JSON Lines or a JSON array of objects with ``model_a``, ``model_b``,
   ``winner`` and optional ``tstamp``, ``anony``, ``category`` and ``conv_metadata``
   (LMArena's per-battle style counts, see :data:`CONV_METADATA_FIELDS`);
2. a battle CSV with at least the columns ``model_a,model_b,winner`` (a ``conv_metadata``
   column holds the same object as JSON text);
3. a pair-counts CSV ``model_a,model_b,wins_a,wins_b,ties``, which becomes a weighted
   :class:`~ranking.battles.Battles` with at most three entries per row, so its cost grows
   with the number of pairs and not with the number of battles.

A JSON (Lines) file may also hold **K-wise records** (K-Sort Arena votes, see
:mod:`ranking.kwise`): ``{"models": [m_1, ..., m_K], "ranks": [r_1, ..., r_K]}`` with the K
distinct models in the order they were shown and the rank of each (a permutation of 1..K,
1 = best, no ties; 3 <= K <= 10), optional ``tstamp``, ``anony`` and ``category`` as in a
battle record. A record is K-wise when it has ``models``; it must not also have ``model_a``,
``model_b`` or ``winner``. K-wise records are read into :attr:`ReadResult.kwise`, not into the
pairwise battles.

Records are decoded a block at a time (one ``orjson`` call per block of lines when
``orjson`` is installed) and coded to integers with dictionary look-ups over the
distinct values only, so reading is dominated by JSON decoding; all aggregation is numpy.
:func:`write_battles` writes battle records back as JSON Lines.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import math
import operator
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Literal

import numpy as np
from numpy.typing import NDArray

from ranking._validation import text_problem
from ranking.battles import Battles
from ranking.errors import BattleFileError, InputError
from ranking.kwise import KwiseVotes, ranking_problem
from ranking.types import A_WINS, B_WINS, OUTCOMES, TIE

try:  # orjson decodes JSON several times faster than the standard library
    import orjson

    _loads: Any = orjson.loads
    _JSONDecodeError: tuple[type[Exception], ...] = (orjson.JSONDecodeError, ValueError)
except ImportError:  # pragma: no cover - exercised only without orjson
    orjson = None  # type: ignore[assignment]
    _loads = json.loads
    _JSONDecodeError = (ValueError,)

Format = Literal["auto", "jsonl", "json", "csv", "pairs"]
FORMATS: tuple[str, ...] = ("auto", "jsonl", "json", "csv", "pairs")

_WINNER_CODES: dict[str, int] = {name: code for code, name in enumerate(OUTCOMES)}
_GET_A = operator.itemgetter("model_a")
_GET_B = operator.itemgetter("model_b")
_GET_WINNER = operator.itemgetter("winner")
_GET_TSTAMP = operator.itemgetter("tstamp")
_BLOCK_BYTES = 1 << 20
_MAX_REPORTED_ERRORS = 1000
_CSV_BLOCK_ROWS = 50_000
#: Largest count of a pair-counts row: counts are held as float64 weights, exact up to 2**53.
MAX_COUNT = 2**53
#: Largest ``tstamp``: the last second of year 9999 (UTC); the smallest is 0 (1970-01-01).
MAX_TSTAMP = 253402300799.0
_TSTAMP_RANGE = f"from 0 to {MAX_TSTAMP:.0f} (1970-01-01 to 9999-12-31 UTC)"
_ANONY_TYPES = {bool, type(None)}
_BAD = object()  # a category value that is not acceptable
_SIDES = ("a", "b")
#: LMArena's ``conv_metadata`` keys read by style control, with the parts each count has.
#: A count is a non-negative integer or an object with exactly these parts (summed).
CONV_METADATA_FIELDS: dict[str, tuple[str, ...]] = {
    **{f"sum_assistant_{s}_tokens": () for s in _SIDES},
    **{f"header_count_{s}": ("h1", "h2", "h3", "h4", "h5", "h6") for s in _SIDES},
    **{f"list_count_{s}": ("ordered", "unordered") for s in _SIDES},
    **{f"bold_count_{s}": ("**", "__") for s in _SIDES},
}


@dataclass(frozen=True)
class ReadResult:
    """What :func:`read_battles` read.

    Attributes
    ----------
    battles : Battles
        The valid (and, with ``anonymous_only``, anonymous) battles.
    n_rows : int
        Data rows read (records, or pair-count rows), blank lines and header excluded.
    skipped : int
        Malformed rows dropped because ``skip_invalid`` was given.
    errors : list of (int, str)
        ``(line, message)`` of every malformed row (the first 1,000 are kept).
    anony : ndarray of bool or None
        Each battle's own ``anony`` (true when the record has none); ``None`` for pair counts.
    category : ndarray of object or None
        Each battle's own ``category`` (``None`` when the record has none or it is blank);
        ``None`` for pair counts.
    conv_metadata : ndarray of object or None
        Each battle's own ``conv_metadata`` object as read (``None`` when the record has
        none); ``None`` for pair counts.
    kwise : KwiseVotes or None
        The valid (and, with ``anonymous_only``, anonymous) K-wise records, on the same
        model list as ``battles`` (``None`` when the file has none).
    kwise_anony, kwise_category : ndarray or None
        Each K-wise record's own ``anony`` and ``category``, as for battles.
    """

    battles: Battles
    n_rows: int
    skipped: int
    errors: list[tuple[int, str]] = field(default_factory=list)
    anony: NDArray[np.bool_] | None = None
    category: NDArray[np.object_] | None = None
    conv_metadata: NDArray[np.object_] | None = None
    kwise: KwiseVotes | None = None
    kwise_anony: NDArray[np.bool_] | None = None
    kwise_category: NDArray[np.object_] | None = None


@dataclass(frozen=True)
class BattleBlock:
    """One block of valid battles from :class:`BattleStream`, in file order.

    Attributes
    ----------
    models : tuple of str
        Every model name seen so far, in order of first appearance; ``a`` and ``b`` index
        it, and a later block's ``models`` extends an earlier one's.
    a, b : ndarray of int64
    outcome : ndarray of int8
        Codes of :data:`ranking.types.OUTCOMES`.
    tstamp : ndarray of float64 or None
        Each record's ``tstamp`` (NaN when the record has none); ``None`` for pair counts.
    weight : ndarray of float64 or None
        Pair counts: the count behind each entry (three entries per row); ``None`` for records.
    anony, category, conv_metadata : ndarray or None
        As in :class:`ReadResult`, for this block's records; ``None`` for pair counts.
    kwise : list of dict
        This block's valid K-wise records: ``{"models": [names in the order shown],
        "ranks": [...], "tstamp": float or None, "anony": bool, "category": str or None}``.
    """

    models: tuple[str, ...]
    a: NDArray[np.int64]
    b: NDArray[np.int64]
    outcome: NDArray[np.int8]
    tstamp: NDArray[np.float64] | None
    weight: NDArray[np.float64] | None
    anony: NDArray[np.bool_] | None
    category: NDArray[np.object_] | None
    conv_metadata: NDArray[np.object_] | None
    kwise: list[dict[str, Any]] = field(default_factory=list)

    def __len__(self) -> int:
        """Return the number of battle entries in the block."""
        return len(self.a)


class BattleStream:
    """A battle file read block by block, so memory is bounded by a block, not the file.

    The same reader and the same rules as :func:`read_battles`: iterate to get
    :class:`BattleBlock` objects holding the valid rows; malformed rows are counted in
    :attr:`n_errors` and the first 1,000 kept in :attr:`errors` as ``(line, message)``.
    After the last block, :meth:`check` raises the :class:`BattleFileError` that
    :func:`read_battles` would raise. A JSON array is decoded whole (JSON Lines and CSV
    stream); blocks hold about 1 MiB of JSON Lines or 50,000 CSV rows.

    Parameters
    ----------
    source, fmt, anonymous_only, max_name_length, max_category_length
        As for :func:`read_battles`.
    """

    def __init__(
        self,
        source: str | Path | IO[str] | IO[bytes],
        *,
        fmt: Format = "auto",
        anonymous_only: bool = False,
        max_name_length: int | None = None,
        max_category_length: int | None = None,
    ) -> None:
        if fmt not in FORMATS:
            raise InputError(f"fmt must be one of {', '.join(FORMATS)}; got {fmt!r}")
        self._coder = _Coder(
            label="line",
            anonymous_only=anonymous_only,
            max_name_length=max_name_length,
            max_category_length=max_category_length,
        )
        self._steps = _read_steps(source, fmt, self._coder)

    def __iter__(self) -> Iterator[BattleBlock]:
        """Read on, yielding each non-empty block of valid battles."""
        for _ in self._steps:
            block = self._coder.drain()
            if len(block) or block.kwise:
                yield block

    @property
    def n_rows(self) -> int:
        """Data rows read so far."""
        return self._coder.n_rows

    @property
    def n_errors(self) -> int:
        """Malformed rows seen so far."""
        return self._coder.n_errors

    @property
    def errors(self) -> list[tuple[int, str]]:
        """``(line, message)`` of the first malformed rows."""
        return list(self._coder.errors)

    @property
    def weighted(self) -> bool:
        """Whether the file is a pair-counts CSV (known once a block has been read)."""
        return self._coder.weighted

    def check(self) -> None:
        """Raise :class:`BattleFileError` if any row read so far was malformed."""
        self._coder.check()


def read_battles(
    source: str | Path | IO[str] | IO[bytes],
    *,
    fmt: Format = "auto",
    skip_invalid: bool = False,
    anonymous_only: bool = False,
    max_name_length: int | None = None,
    max_category_length: int | None = None,
) -> ReadResult:
    """Read a battle file in any of DESIGN.md's three formats.

    Parameters
    ----------
    source : str, Path or file object
        A path, or an open text or binary file (``sys.stdin`` for example).
    fmt : {"auto", "jsonl", "json", "csv", "pairs"}
        ``auto`` looks at the content: ``[`` starts a JSON array, ``{`` JSON Lines,
        otherwise a CSV whose header decides between battle CSV and pair counts.
    skip_invalid : bool
        Drop malformed rows (and report how many) instead of failing.
    anonymous_only : bool
        Keep only records whose ``anony`` is true (not possible for pair counts).
    max_name_length, max_category_length : int or None
        Longest model name and ``category`` accepted (no limit by default). Names and
        categories never hold control characters, counts are integers from 0 to
        :data:`MAX_COUNT` and a ``tstamp`` lies from 0 to :data:`MAX_TSTAMP`; a row that
        breaks a rule is malformed.

    Returns
    -------
    ReadResult

    Raises
    ------
    BattleFileError
        On malformed rows (unless ``skip_invalid``), with ``(line, message)`` pairs.
    OSError
        When the file cannot be opened.
    """
    coder = _Coder(
        label="line",
        anonymous_only=anonymous_only,
        max_name_length=max_name_length,
        max_category_length=max_category_length,
    )
    for _ in _read_steps(source, fmt, coder):
        pass
    return coder.finish(skip_invalid=skip_invalid)


def _read_steps(
    source: str | Path | IO[str] | IO[bytes], fmt: str, coder: _Coder
) -> Iterator[None]:
    """Read into ``coder``, yielding after each block of rows it was given."""
    if fmt not in FORMATS:
        raise InputError(f"fmt must be one of {', '.join(FORMATS)}; got {fmt!r}")
    blocks = _byte_blocks(source)
    first = next(blocks, b"")
    if first.startswith(b"\xef\xbb\xbf"):
        first = first[3:]
    head = first.lstrip()
    if fmt == "auto":
        if head.startswith(b"["):
            fmt = "json"
        elif head.startswith(b"{") or not head:
            fmt = "jsonl"
        else:
            fmt = "auto-csv"
    chained = _chain(first, blocks)
    if fmt == "jsonl":
        yield from _read_jsonl(chained, coder)
    elif fmt == "json":
        _read_json_array(b"".join(chained), coder)
        yield None
    else:
        text = io.TextIOWrapper(
            io.BufferedReader(_BlockStream(chained)), encoding="utf-8", newline=""
        )
        try:
            yield from _read_csv(text, coder, fmt=fmt)
        except UnicodeDecodeError as exc:
            raise BattleFileError(f"the file is not UTF-8 text: {exc.reason}") from None


# --------------------------------------------------------------------------- reading


def battles_from_records(
    records: Iterable[Mapping[str, Any]], *, skip_invalid: bool = False
) -> Battles:
    """Build battles from Chatbot-Arena-style records in memory (DESIGN.md format 1).

    Parameters
    ----------
    records : iterable of mapping
        Each with ``model_a``, ``model_b``, ``winner`` and optionally ``tstamp``.
    skip_invalid : bool
        Drop malformed records instead of raising.

    Returns
    -------
    Battles

    Raises
    ------
    BattleFileError
        A record is malformed; messages name the record (1-based) and the field.
    """
    coder = _Coder(label="record")
    coder.add_records(list(records), first_line=1)
    return coder.finish(skip_invalid=skip_invalid).battles


def _byte_blocks(source: str | Path | IO[str] | IO[bytes]) -> Iterator[bytes]:
    """Yield the content as byte blocks that end on a line boundary (except the last)."""
    if isinstance(source, str | Path):
        path = Path(source)
        if path.is_dir():
            raise InputError(f"{path}: is a directory, expected a battle file")
        handle: IO[Any] = open(path, "rb")  # noqa: SIM115 - closed in the generator
        return _split_blocks(handle, close=True)
    buffer = getattr(source, "buffer", None)
    if buffer is not None:
        return _split_blocks(buffer, close=False)
    return _split_blocks(source, close=False)


def _split_blocks(handle: IO[Any], *, close: bool) -> Iterator[bytes]:
    try:
        carry = b""
        while True:
            block = handle.read(_BLOCK_BYTES)
            if isinstance(block, str):
                block = block.encode("utf-8")
            if not block:
                break
            block = carry + block
            cut = block.rfind(b"\n")
            if cut < 0:
                carry = block
                continue
            carry = block[cut + 1 :]
            yield block[: cut + 1]
        if carry:
            yield carry
    finally:
        if close:
            handle.close()


def _chain(first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    if first:
        yield first
    yield from rest


class _BlockStream(io.RawIOBase):
    """A readable raw stream over an iterator of byte blocks (for the csv module)."""

    def __init__(self, blocks: Iterator[bytes]) -> None:
        self._blocks = blocks
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._pending:
            try:
                self._pending = next(self._blocks)
            except StopIteration:
                return 0
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size


def _read_jsonl(blocks: Iterable[bytes], coder: _Coder) -> Iterator[None]:
    line = 1
    for block in blocks:
        n_lines = block.count(b"\n") + (0 if block.endswith(b"\n") else 1)
        body = block[:-1] if block.endswith(b"\n") else block
        records: list[Any] | None = None
        if body and b"\n\n" not in body and not body.startswith(b"\n"):
            try:
                records = _loads(b"[" + body.replace(b"\n", b",") + b"]")
            except _JSONDecodeError:
                records = None
            if records is not None and len(records) != n_lines:
                records = None
        if records is not None:
            coder.add_records(records, first_line=line)
        else:
            _read_jsonl_slowly(body, coder, first_line=line)
        line += n_lines
        yield None


def _read_jsonl_slowly(body: bytes, coder: _Coder, *, first_line: int) -> None:
    """Line by line, for blocks with blank lines or syntax errors."""
    records: list[Any] = []
    lines: list[int] = []
    for k, raw in enumerate(body.split(b"\n")):
        if not raw.strip():
            continue
        try:
            records.append(_loads(raw))
        except _JSONDecodeError as exc:
            records.append(_Invalid(f"invalid JSON ({_json_reason(exc)})"))
        lines.append(first_line + k)
    coder.add_records(records, lines=np.asarray(lines, dtype=np.int64))


def _json_reason(exc: Exception) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:120]


def _read_json_array(data: bytes, coder: _Coder) -> None:
    try:
        records = _loads(data)
    except _JSONDecodeError as exc:
        line = _error_line(data, exc)
        raise BattleFileError(
            f"line {line}: invalid JSON ({_json_reason(exc)})", [(line, "invalid JSON")]
        ) from None
    if not isinstance(records, list):
        raise BattleFileError(
            "line 1: expected a JSON array of battle records",
            [(1, "expected a JSON array of battle records")],
        )
    coder.label = "record"
    coder.add_records(records, first_line=1)


def _error_line(data: bytes, exc: Exception) -> int:
    pos = getattr(exc, "pos", None)
    if isinstance(pos, int):
        return data.count(b"\n", 0, pos) + 1
    lineno = getattr(exc, "lineno", None)
    return int(lineno) if isinstance(lineno, int) else 1


_BATTLE_COLUMNS = ("model_a", "model_b", "winner")
_PAIR_COLUMNS = ("model_a", "model_b", "wins_a", "wins_b", "ties")


def _read_csv(text: IO[str], coder: _Coder, *, fmt: str) -> Iterator[None]:
    reader = csv.reader(text)
    try:
        header = next(reader)
    except StopIteration:
        return
    except csv.Error as exc:
        raise BattleFileError(f"line 1: bad CSV ({exc})", [(1, f"bad CSV ({exc})")]) from None
    header = [h.strip() for h in header]
    if header and header[0].startswith("\ufeff"):
        header[0] = header[0][1:]
    is_pairs = all(c in header for c in _PAIR_COLUMNS)
    is_battles = all(c in header for c in _BATTLE_COLUMNS)
    if fmt == "pairs" and not is_pairs:
        msg = (
            f"a pair-counts CSV needs the columns {','.join(_PAIR_COLUMNS)}; "
            f"got {','.join(header)!r}"
        )
        raise BattleFileError(f"line 1: {msg}", [(1, msg)])
    if fmt == "csv" and not is_battles:
        msg = (
            f"a battle CSV needs the columns {','.join(_BATTLE_COLUMNS)}; got {','.join(header)!r}"
        )
        raise BattleFileError(f"line 1: {msg}", [(1, msg)])
    if not (is_pairs or is_battles):
        msg = (
            f"CSV header must have {','.join(_BATTLE_COLUMNS)} (battles) or "
            f"{','.join(_PAIR_COLUMNS)} (pair counts); got {','.join(header)!r}"
        )
        raise BattleFileError(f"line 1: {msg}", [(1, msg)])
    if fmt == "pairs" or (fmt == "auto-csv" and is_pairs and not is_battles):
        yield from _read_pair_rows(reader, header, coder)
    else:
        yield from _read_battle_rows(reader, header, coder)


def _csv_rows(reader: Any, width: int) -> Iterator[tuple[int, list[str]]]:
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise BattleFileError(
                f"line {reader.line_num}: bad CSV ({exc})", [(reader.line_num, f"bad CSV ({exc})")]
            ) from None
        if not row or (len(row) == 1 and not row[0].strip()):
            continue
        yield reader.line_num, row


def _read_battle_rows(reader: Any, header: list[str], coder: _Coder) -> Iterator[None]:
    col = {name: header.index(name) for name in header if name}
    ia, ib, iw = col["model_a"], col["model_b"], col["winner"]
    it, ian, ic = col.get("tstamp"), col.get("anony"), col.get("category")
    im = col.get("conv_metadata")
    width = len(header)
    records: list[Any] = []
    lines: list[int] = []
    for line, row in _csv_rows(reader, width):
        lines.append(line)
        if len(row) != width:
            records.append(_Invalid(f"expected {width} fields as in the header; got {len(row)}"))
            continue
        record: dict[str, Any] = {"model_a": row[ia], "model_b": row[ib], "winner": row[iw]}
        if it is not None and row[it].strip():
            try:
                record["tstamp"] = float(row[it])
            except ValueError:
                record["tstamp"] = row[it]
        if ian is not None and row[ian].strip():
            flag = row[ian].strip().lower()
            record["anony"] = (
                True
                if flag in ("true", "1", "yes")
                else False
                if flag in ("false", "0", "no")
                else row[ian]
            )
        if ic is not None:
            record["category"] = row[ic]
        if im is not None and row[im].strip():
            try:
                record["conv_metadata"] = json.loads(row[im])
            except ValueError:
                record["conv_metadata"] = row[im]
        records.append(record)
        if len(records) >= _CSV_BLOCK_ROWS:
            coder.add_records(records, lines=np.asarray(lines, dtype=np.int64))
            records, lines = [], []
            yield None
    coder.add_records(records, lines=np.asarray(lines, dtype=np.int64))
    yield None


def _read_pair_rows(reader: Any, header: list[str], coder: _Coder) -> Iterator[None]:
    if coder.anonymous_only:
        raise InputError(
            "anonymous_only needs battle records with an 'anony' field; a pair-counts file has none"
        )
    col = {name: header.index(name) for name in header if name}
    width = len(header)
    rows: list[tuple[int, str | None, str | None, Sequence[float], str | None]] = []
    for line, row in _csv_rows(reader, width):
        if len(row) != width:
            rows.append(
                (line, None, None, (), f"expected {width} fields as in the header; got {len(row)}")
            )
            continue
        counts: list[float] = []
        problem = None
        for name in ("wins_a", "wins_b", "ties"):
            raw = row[col[name]].strip()
            try:
                value = int(raw)
            except ValueError:
                value = -1
            if not 0 <= value <= MAX_COUNT:
                problem = f"{name} must be an integer from 0 to {MAX_COUNT}; got {_show(raw)}"
                break
            counts.append(value)
        rows.append((line, row[col["model_a"]], row[col["model_b"]], counts, problem))
        if len(rows) >= _CSV_BLOCK_ROWS:
            coder.add_pair_rows(rows)
            rows = []
            yield None
    coder.add_pair_rows(rows)
    yield None


class _Invalid(dict):  # type: ignore[type-arg]
    """Placeholder for a record that could not be decoded (every field is missing)."""

    def __init__(self, reason: str) -> None:
        super().__init__()
        self.reason = reason


class _Coder:
    """Accumulates coded battles from decoded records, block by block."""

    def __init__(
        self,
        *,
        label: str,
        anonymous_only: bool = False,
        max_name_length: int | None = None,
        max_category_length: int | None = None,
    ) -> None:
        self.label = label
        self.anonymous_only = anonymous_only
        self.max_name_length = max_name_length
        self.max_category_length = max_category_length
        self.names: dict[str, int] = {}
        self.a: list[NDArray[np.int64]] = []
        self.b: list[NDArray[np.int64]] = []
        self.o: list[NDArray[np.int64]] = []
        self.t: list[NDArray[np.float64]] = []
        self.w: list[NDArray[np.float64]] = []
        self.keep: list[NDArray[np.bool_]] = []
        self.bad: list[NDArray[np.bool_]] = []
        self.anony: list[NDArray[np.bool_]] = []
        self.category: list[NDArray[np.object_]] = []
        self.meta: list[NDArray[np.object_]] = []
        self.errors: list[tuple[int, str]] = []
        self.n_errors = 0
        self.n_rows = 0
        self.weighted = False
        self._pairs: list[tuple[int, int, int, float]] = []
        #: valid K-wise records: (shown codes, ranks, tstamp or None, anony, category, keep)
        self.kwise: list[tuple[tuple[int, ...], tuple[int, ...], float | None, bool, Any, bool]]
        self.kwise = []
        self.kwise_drained = 0

    # -- names
    def _code_names(self, values: list[Any]) -> NDArray[np.int64]:
        try:  # every name already known (the common case after the first block)
            return np.fromiter(
                map(self.names.__getitem__, values), dtype=np.int64, count=len(values)
            )
        except (KeyError, TypeError):
            pass
        try:
            uniques = set(values)
        except TypeError:  # an unhashable value (a list or an object)
            values = [v if type(v) is str else None for v in values]
            uniques = set(values)
        lut = {u: self._code_name(u) for u in uniques}
        return np.fromiter(map(lut.__getitem__, values), dtype=np.int64, count=len(values))

    # -- records (JSON, JSONL, battle CSV)
    def add_records(
        self, records: list[Any], *, first_line: int = 1, lines: NDArray[np.int64] | None = None
    ) -> None:
        m = len(records)
        if m == 0:
            return
        self.n_rows += m
        if lines is None:
            lines = np.arange(first_line, first_line + m, dtype=np.int64)
        try:
            kwise_models = _field(records, "models")
        except AttributeError:  # a record that is not an object
            kwise_models = [r.get("models") if isinstance(r, Mapping) else None for r in records]
        if any(v is not None for v in kwise_models):
            split = np.fromiter((v is not None for v in kwise_models), dtype=bool, count=m)
            for k in np.flatnonzero(split):
                self._add_kwise(records[k], int(lines[k]))
            records = [r for r, is_k in zip(records, split.tolist()) if not is_k]
            lines = lines[~split]
            m = len(records)
            if m == 0:
                return
        coded = self._code_triples(records)
        if coded is None:  # some record lacks a field, is not an object, or holds a list
            records = [r if isinstance(r, Mapping) else _BadRecord(r) for r in records]
            a = self._code_names([r.get("model_a") for r in records])
            b = self._code_names([r.get("model_b") for r in records])
            o = np.fromiter(
                map(_winner_code, [r.get("winner") for r in records]), dtype=np.int64, count=m
            )
        else:
            a, b, o = coded
        try:
            ts = list(map(_GET_TSTAMP, records))
        except (KeyError, TypeError, AttributeError):
            ts = [r.get("tstamp") if isinstance(r, Mapping) else None for r in records]
        if set(map(type, ts)) <= {int, float}:
            t = np.array(ts, dtype=np.float64)
            t_bad = ~((t >= 0) & (t <= MAX_TSTAMP))
        else:
            t = np.array([v if type(v) in (int, float) else math.nan for v in ts], dtype=np.float64)
            t_bad = (
                np.fromiter(
                    (v is not None and type(v) not in (int, float) for v in ts), dtype=bool, count=m
                )
                | (t < 0)
                | (t > MAX_TSTAMP)
                | np.isinf(t)
            )
        flags = _field(records, "anony")
        kinds = set(map(type, flags))
        if kinds <= {bool}:  # the common case: every record says
            anony, anony_bad = np.array(flags, dtype=bool), np.zeros(m, dtype=bool)
        else:
            anony = np.fromiter((v is not False for v in flags), dtype=bool, count=m)
            anony_bad = (
                np.zeros(m, dtype=bool)
                if kinds <= _ANONY_TYPES
                else np.fromiter((type(v) not in _ANONY_TYPES for v in flags), dtype=bool, count=m)
            )
        category, category_bad = self._code_categories(_field(records, "category"))
        meta, meta_bad = _code_conv_metadata(_field(records, "conv_metadata"))
        bad = (a < 0) | (b < 0) | (o < 0) | (a == b) | t_bad | anony_bad | category_bad | meta_bad
        if self.anonymous_only:
            keep = np.fromiter(
                (isinstance(r, Mapping) and r.get("anony") is True for r in records),
                dtype=bool,
                count=m,
            )
        else:
            keep = np.ones(m, dtype=bool)
        if bad.any():
            for k in np.flatnonzero(bad):
                self._error(int(lines[k]), self._record_problem(records[k]))
        self.a.append(a)
        self.b.append(b)
        self.o.append(o)
        self.t.append(t)
        self.w.append(np.ones(m))
        self.keep.append(keep)
        self.bad.append(bad)
        self.anony.append(anony)
        self.category.append(category)
        self.meta.append(meta)

    def _code_triples(
        self, records: list[Any]
    ) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]] | None:
        """Code model_a, model_b and winner with C-level look-ups; None if a record is odd."""
        try:
            ma = list(map(_GET_A, records))
            mb = list(map(_GET_B, records))
            wv = list(map(_GET_WINNER, records))
            a = self._code_names(ma)
            b = self._code_names(mb)
        except (KeyError, TypeError, AttributeError, IndexError):
            return None
        try:
            o = np.fromiter(map(_WINNER_CODES.__getitem__, wv), dtype=np.int64, count=len(wv))
        except (KeyError, TypeError):
            o = np.fromiter(map(_winner_code, wv), dtype=np.int64, count=len(wv))
        return a, b, o

    def _code_name(self, value: Any) -> int:
        code = self.names.get(value) if type(value) is str else None
        if code is None and _name_problem("", value, self.max_name_length) is None:
            code = self.names[value] = len(self.names)
        return -1 if code is None else code

    def _code_categories(self, values: list[Any]) -> tuple[NDArray[np.object_], NDArray[np.bool_]]:
        """Each record's category (``None`` when absent or blank) and which ones are bad."""
        try:
            uniques = set(values)
        except TypeError:  # an unhashable value (a list or an object)
            values = [v if v is None or type(v) is str else _BAD for v in values]
            uniques = set(values)
        if uniques == {None}:
            return np.full(len(values), None, dtype=object), np.zeros(len(values), dtype=bool)
        lut = {u: self._category(u) for u in uniques}
        coded = np.empty(len(values), dtype=object)
        coded[:] = list(map(lut.__getitem__, values))
        if not any(v is _BAD for v in lut.values()):
            return coded, np.zeros(len(values), dtype=bool)
        bad = np.fromiter((v is _BAD for v in coded), dtype=bool, count=len(values))
        coded[bad] = None
        return coded, bad

    def _category(self, value: Any) -> Any:
        if value is None:
            return None
        if type(value) is not str or text_problem(value, max_length=self.max_category_length):
            return _BAD
        return value.strip() or None

    def _record_problem(self, record: Any) -> str:
        if isinstance(record, _Invalid):
            return record.reason
        if isinstance(record, _BadRecord):
            return (
                f"expected a JSON object with model_a, model_b, winner; got {_show(record.value)}"
            )
        ma, mb = record.get("model_a"), record.get("model_b")
        winner, tstamp = record.get("winner"), record.get("tstamp")
        problem = _name_problem("model_a", ma, self.max_name_length) or _name_problem(
            "model_b", mb, self.max_name_length
        )
        if problem:
            return problem
        if ma == mb:
            return f"model_a and model_b are both {ma!r}; a self-battle is malformed"
        if winner is None:
            return "winner is missing"
        if _winner_code(winner) < 0:
            return f"winner must be one of {', '.join(OUTCOMES)}; got {_show(winner)}"
        if tstamp is not None and not (type(tstamp) in (int, float) and 0 <= tstamp <= MAX_TSTAMP):
            return f"tstamp must be a number of seconds {_TSTAMP_RANGE}; got {_show(tstamp)}"
        anony = record.get("anony")
        if type(anony) not in _ANONY_TYPES:
            return f"anony must be true or false; got {_show(anony)}"
        category = record.get("category")
        if category is not None:
            if type(category) is not str:
                return f"category must be a string; got {_show(category)}"
            problem = text_problem(category, max_length=self.max_category_length)
            if problem:
                return f"category {problem}"
        problem = conv_metadata_problem(record.get("conv_metadata"))
        if problem:
            return problem
        return "malformed record"  # pragma: no cover

    # -- K-wise records
    def _add_kwise(self, record: Mapping[str, Any], line: int) -> None:
        problem = self._kwise_problem(record)
        if problem is not None:
            self._error(line, problem)
            return
        shown = tuple(self._code_name(name) for name in record["models"])
        tstamp = record.get("tstamp")
        category = self._category(record.get("category"))
        keep = not self.anonymous_only or record.get("anony") is True
        self.kwise.append(
            (
                shown,
                tuple(record["ranks"]),
                None if tstamp is None else float(tstamp),
                record.get("anony") is not False,
                category,
                keep,
            )
        )

    def _kwise_problem(self, record: Mapping[str, Any]) -> str | None:
        if any(key in record for key in ("model_a", "model_b", "winner")):
            return (
                "a record with models is a K-wise vote and must not have model_a, model_b or winner"
            )
        models, ranks = record.get("models"), record.get("ranks")
        if type(models) is not list:
            return f"models must be a list of model names; got {_show(models)}"
        for k, name in enumerate(models):
            problem = _name_problem(f"models[{k}]", name, self.max_name_length)
            if problem:
                return problem
        if len(set(models)) != len(models):
            return f"the models of a K-wise vote must be distinct; got {_show(models)}"
        if type(ranks) is not list:
            return f"ranks must be a list of integers; got {_show(ranks)}"
        problem = ranking_problem(len(models), ranks)
        if problem:
            return problem
        tstamp = record.get("tstamp")
        if tstamp is not None and not (type(tstamp) in (int, float) and 0 <= tstamp <= MAX_TSTAMP):
            return f"tstamp must be a number of seconds {_TSTAMP_RANGE}; got {_show(tstamp)}"
        anony = record.get("anony")
        if type(anony) not in _ANONY_TYPES:
            return f"anony must be true or false; got {_show(anony)}"
        if self._category(record.get("category")) is _BAD:
            shown = _show(record.get("category"))
            return f"category must be a string without control characters; got {shown}"
        return None

    def _kwise_block(self) -> list[dict[str, Any]]:
        names = list(self.names)
        out = [
            {
                "models": [names[c] for c in shown],
                "ranks": list(ranks),
                "tstamp": tstamp,
                "anony": anony,
                "category": category,
            }
            for shown, ranks, tstamp, anony, category, keep in self.kwise[self.kwise_drained :]
            if keep
        ]
        self.kwise_drained = len(self.kwise)
        return out

    # -- pair counts
    def add_pair_rows(
        self, rows: list[tuple[int, str | None, str | None, Sequence[float], str | None]]
    ) -> None:
        """Pair-count rows ``(line, model_a, model_b, (wins_a, wins_b, ties), problem)``."""
        if not rows:
            return
        self.n_rows += len(rows)
        self.weighted = True
        codes: list[tuple[int, int]] = []
        weights: list[Sequence[float]] = []
        for line, model_a, model_b, counts, problem in rows:
            if problem is None:
                problem = _name_problem("model_a", model_a, self.max_name_length) or _name_problem(
                    "model_b", model_b, self.max_name_length
                )
            if problem is None and model_a == model_b:
                problem = f"model_a and model_b are both {model_a!r}; a self-battle is malformed"
            if problem is not None:
                self._error(line, problem)
                continue
            codes.append((self._code_name(model_a), self._code_name(model_b)))
            weights.append(counts)
        k = len(codes)
        pair = np.array(codes, dtype=np.int64).reshape(k, 2)
        self.a.append(np.repeat(pair[:, 0], 3))
        self.b.append(np.repeat(pair[:, 1], 3))
        self.o.append(np.tile(np.array([A_WINS, B_WINS, TIE], dtype=np.int64), k))
        self.w.append(np.array(weights, dtype=np.float64).reshape(3 * k))
        self.t.append(np.full(3 * k, math.nan))
        self.keep.append(np.ones(3 * k, dtype=bool))
        self.bad.append(np.zeros(3 * k, dtype=bool))
        self.anony.append(np.ones(3 * k, dtype=bool))
        self.category.append(np.full(3 * k, None, dtype=object))
        self.meta.append(np.full(3 * k, None, dtype=object))

    def _error(self, line: int, message: str) -> None:
        self.n_errors += 1
        if len(self.errors) < _MAX_REPORTED_ERRORS:
            self.errors.append((line, message))

    # -- result
    def check(self) -> None:
        """Raise :class:`BattleFileError` naming the malformed rows seen so far, if any."""
        if self.n_errors:
            line, message = self.errors[0]
            more = self.n_errors - 1
            tail = f" (and {more} more malformed row{'s' if more > 1 else ''})" if more else ""
            raise BattleFileError(
                f"{self.label} {line}: {message}{tail}; nothing was read "
                "(use --skip-invalid to skip malformed rows)",
                list(self.errors),
            )

    def _kept(self) -> tuple[NDArray[Any], ...]:
        """Return the coded columns, without malformed rows (and zero weights when weighted).

        In the order ``a, b, outcome, tstamp, weight, anony, category, conv_metadata``.
        """
        cat = np.concatenate
        if self.a:
            a, b, o = cat(self.a), cat(self.b), cat(self.o)
            t, w = cat(self.t), cat(self.w)
            anony, category, meta = cat(self.anony), cat(self.category), cat(self.meta)
            keep = cat(self.keep) & ~cat(self.bad)
        else:
            a = b = o = np.zeros(0, dtype=np.int64)
            t = w = np.zeros(0)
            anony, category = np.zeros(0, dtype=bool), np.zeros(0, dtype=object)
            meta = np.zeros(0, dtype=object)
            keep = np.zeros(0, dtype=bool)
        if self.weighted:
            keep &= w > 0
        return a[keep], b[keep], o[keep], t[keep], w[keep], anony[keep], category[keep], meta[keep]

    def drain(self) -> BattleBlock:
        """Return the valid battles coded since the last call (codes index ``self.names``)."""
        a, b, o, t, w, anony, category, meta = self._kept()
        for parts in (self.a, self.b, self.o, self.t, self.w, self.keep, self.bad):
            parts.clear()
        self.anony.clear()
        self.category.clear()
        self.meta.clear()
        kwise = self._kwise_block()
        return BattleBlock(
            models=tuple(self.names),
            a=a,
            b=b,
            outcome=o.astype(np.int8),
            tstamp=None if self.weighted else t,
            weight=w if self.weighted else None,
            anony=None if self.weighted else anony,
            category=None if self.weighted else category,
            conv_metadata=None if self.weighted else meta,
            kwise=kwise,
        )

    def finish(self, *, skip_invalid: bool) -> ReadResult:
        if not skip_invalid:
            self.check()
        a, b, o, t, w, anony, category, meta = self._kept()
        names = list(self.names)
        order = sorted(range(len(names)), key=names.__getitem__)
        remap = np.empty(len(names), dtype=np.int32)
        remap[order] = np.arange(len(names), dtype=np.int32)
        models = tuple(names[i] for i in order)
        tstamp = t if len(t) and not self.weighted and np.isfinite(t).all() else None
        battles = Battles(
            models,
            remap[a] if len(a) else a.astype(np.int32),
            remap[b] if len(b) else b.astype(np.int32),
            o.astype(np.int8),
            tstamp,
            w if self.weighted else None,
        )
        kept = [entry for entry in self.kwise if entry[5]]
        kwise = kwise_anony = kwise_category = None
        if kept:
            stamps = [entry[2] for entry in kept]
            kwise = KwiseVotes(
                models,
                tuple(tuple(int(remap[c]) for c in entry[0]) for entry in kept),
                tuple(entry[1] for entry in kept),
                None if any(t is None for t in stamps) else np.asarray(stamps, dtype=np.float64),
            )
            kwise_anony = np.array([entry[3] for entry in kept], dtype=bool)
            kwise_category = np.empty(len(kept), dtype=object)
            kwise_category[:] = [entry[4] for entry in kept]
        return ReadResult(
            battles=battles,
            n_rows=self.n_rows,
            skipped=self.n_errors,
            errors=list(self.errors),
            anony=None if self.weighted else anony,
            category=None if self.weighted else category,
            conv_metadata=None if self.weighted else meta,
            kwise=kwise,
            kwise_anony=kwise_anony,
            kwise_category=kwise_category,
        )


class _BadRecord(dict):  # type: ignore[type-arg]
    """Stands in for a record that is not a JSON object (every field is missing)."""

    def __init__(self, value: Any) -> None:
        super().__init__()
        self.value = value


def _field(records: list[Any], key: str) -> list[Any]:
    """``record.get(key)`` of every record (a C-level loop when they are plain dicts)."""
    try:
        return list(map(dict.get, records, itertools.repeat(key)))
    except TypeError:  # a Mapping that is not a dict
        return [r.get(key) for r in records]


def _winner_code(value: Any) -> int:
    if type(value) is str:
        return _WINNER_CODES.get(value, -1)
    return -1


def _name_problem(field_name: str, value: Any, max_length: int | None) -> str | None:
    if value is None:
        return f"{field_name} is missing"
    if type(value) is not str:
        return f"{field_name} must be a string; got {_show(value)}"
    if not value.strip():
        return f"{field_name} must not be empty"
    problem = text_problem(value, max_length=max_length)
    return f"{field_name} {problem}" if problem else None


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def conv_metadata_problem(value: Any) -> str | None:
    """Return what is wrong with a record's ``conv_metadata`` (``None`` when absent or valid).

    It must be an object holding every key of :data:`CONV_METADATA_FIELDS`; each is a
    non-negative integer or, for the markdown counts, an object with exactly the listed
    parts (``h1``..``h6``; ``ordered``, ``unordered``; ``**``, ``__``), each a non-negative
    integer. Other keys (LMArena's ``sum_user_tokens``, ``turns``) are kept unread.
    """
    if value is None:
        return None
    if type(value) is not dict:
        return f"conv_metadata must be a JSON object; got {_show(value)}"
    for key, parts in CONV_METADATA_FIELDS.items():
        if key not in value:
            return f"conv_metadata.{key} is missing"
        item = value[key]
        if _is_count(item):
            continue
        if not parts:
            return f"conv_metadata.{key} must be an integer >= 0; got {_show(item)}"
        if type(item) is not dict or set(item) != set(parts):
            return (
                f"conv_metadata.{key} must be an integer >= 0 or an object with the counts "
                f"{', '.join(parts)}; got {_show(item)}"
            )
        for part in parts:
            if not _is_count(item[part]):
                return (
                    f"conv_metadata.{key}.{part} must be an integer >= 0; got {_show(item[part])}"
                )
    return None


def _is_count(value: Any) -> bool:
    return type(value) is int and 0 <= value <= MAX_COUNT


def _code_conv_metadata(values: list[Any]) -> tuple[NDArray[np.object_], NDArray[np.bool_]]:
    """Each record's ``conv_metadata`` (``None`` when absent) and which ones are malformed."""
    m = len(values)
    coded = np.empty(m, dtype=object)
    coded[:] = values
    if all(v is None for v in values):
        return coded, np.zeros(m, dtype=bool)
    bad = np.fromiter((conv_metadata_problem(v) is not None for v in values), dtype=bool, count=m)
    coded[bad] = None
    return coded, bad


def write_battles(
    stream: IO[str],
    battles: Battles,
    *,
    anony: NDArray[np.bool_] | Sequence[bool] | None = None,
    category: NDArray[np.object_] | Sequence[str | None] | None = None,
    conv_metadata: NDArray[np.object_] | Sequence[Mapping[str, Any] | None] | None = None,
    kwise: KwiseVotes | None = None,
    kwise_anony: NDArray[np.bool_] | Sequence[bool] | None = None,
    kwise_category: NDArray[np.object_] | Sequence[str | None] | None = None,
) -> int:
    """Write battle records as JSON Lines (DESIGN.md format 1), one object per battle.

    Each line has ``model_a``, ``model_b``, ``winner``, then ``tstamp`` when the battles
    have timestamps, and ``anony``, ``category`` and ``conv_metadata`` when given (a
    ``None`` entry leaves the key out). :func:`read_battles` reads the file back to the
    same battles and the same per-battle fields.

    Parameters
    ----------
    stream : text file
        Where the lines go.
    battles : Battles
        Unweighted battles (pair counts have no record form; write them as a pair-counts
        CSV instead).
    anony, category, conv_metadata : sequence or None
        One entry per battle (as in :class:`ReadResult`).
    kwise : KwiseVotes, optional
        K-wise votes, written after the battles as K-wise records (``models`` in the order
        shown, ``ranks``, then ``tstamp`` when the votes have them).
    kwise_anony, kwise_category : sequence or None
        One entry per K-wise vote.

    Returns
    -------
    int
        Number of lines written (battles and K-wise votes).
    """
    if battles.is_aggregated:
        raise InputError("write_battles: weighted battles (pair counts) have no record form")
    n = len(battles)
    extras: dict[str, Any] = {}
    for name, values in (
        ("anony", anony),
        ("category", category),
        ("conv_metadata", conv_metadata),
    ):
        if values is not None:
            if len(values) != n:
                raise InputError(f"write_battles: {name} must have one entry per battle ({n})")
            extras[name] = list(values)
    for i, meta in enumerate(extras.get("conv_metadata", ())):
        problem = conv_metadata_problem(meta)
        if problem:
            raise InputError(f"write_battles: battle {i}: {problem}")
    models = battles.models
    a, b, o = battles.a.tolist(), battles.b.tolist(), battles.outcome.tolist()
    tstamp = None if battles.tstamp is None else battles.tstamp.tolist()
    for i in range(n):
        record: dict[str, Any] = {
            "model_a": models[a[i]],
            "model_b": models[b[i]],
            "winner": OUTCOMES[o[i]],
        }
        if tstamp is not None:
            record["tstamp"] = tstamp[i]
        for name, values in extras.items():
            if values[i] is not None:
                record[name] = bool(values[i]) if name == "anony" else values[i]
        _write_record(stream, record)
    if kwise is None:
        return n
    k_extras: dict[str, Any] = {}
    for name, values in (("anony", kwise_anony), ("category", kwise_category)):
        if values is not None:
            if len(values) != len(kwise):
                raise InputError(
                    f"write_battles: kwise_{name} must have one entry per K-wise vote "
                    f"({len(kwise)})"
                )
            k_extras[name] = list(values)
    for v, (shown, ranks) in enumerate(zip(kwise.shown, kwise.ranks)):
        record = {"models": [kwise.models[x] for x in shown], "ranks": list(ranks)}
        if kwise.tstamp is not None:
            record["tstamp"] = float(kwise.tstamp[v])
        for name, values in k_extras.items():
            if values[v] is not None:
                record[name] = bool(values[v]) if name == "anony" else values[v]
        _write_record(stream, record)
    return n + len(kwise)


def _write_record(stream: IO[str], record: dict[str, Any]) -> None:
    if orjson is not None:
        stream.write(orjson.dumps(record).decode("utf-8") + "\n")
    else:  # pragma: no cover - exercised only without orjson
        stream.write(json.dumps(record, ensure_ascii=False) + "\n")
