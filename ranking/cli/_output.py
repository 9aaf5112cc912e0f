"""Rendering of subcommand results as JSON, CSV or an aligned text table."""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass, field
from typing import Any, TextIO


@dataclass
class Output:
    """What a subcommand produced.

    ``document`` is printed for ``--output json``; ``rows`` with ``columns`` for ``csv``
    and ``table``. ``text``, when set, replaces the table (for formats with a fixed text
    shape, such as the bbpPairings pairing list).
    """

    document: Any
    rows: list[dict[str, Any]] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)
    text: str | None = None


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        return f"{value:.4f}".rstrip("0").rstrip(".") if abs(value) < 1e6 else f"{value:.6g}"
    if isinstance(value, list | tuple):
        return " ".join(_cell(v) for v in value)
    return str(value)


def emit(out: Output, fmt: str, stream: TextIO) -> None:
    """Write ``out`` to ``stream`` in format ``fmt`` (``json``, ``csv`` or ``table``)."""
    if fmt == "json":
        json.dump(out.document, stream, indent=2, allow_nan=False)
        stream.write("\n")
        return
    if fmt == "table" and out.text is not None:
        stream.write(out.text if out.text.endswith("\n") else out.text + "\n")
        return
    columns = out.columns or (list(out.rows[0]) if out.rows else [])
    if fmt == "csv":
        writer = csv.writer(stream, lineterminator="\n")
        writer.writerow(columns)
        for row in out.rows:
            writer.writerow([_cell(row.get(c)) for c in columns])
        return
    table = [columns] + [[_cell(row.get(c)) for c in columns] for row in out.rows]
    widths = [max(len(r[i]) for r in table) for i in range(len(columns))]
    for r in table:
        stream.write(
            "  ".join(
                cell.rjust(w) if j else cell.ljust(w) for j, (cell, w) in enumerate(zip(r, widths))
            ).rstrip()
            + "\n"
        )
