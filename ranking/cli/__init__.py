"""The ``python -m ranking`` command line.

Each subcommand lives in its own module of this package and exposes
``register(subparsers) -> None``; the parser it adds sets ``handler`` to a function
``handler(args) -> Output``. Results go to stdout, diagnostics to stderr, and bad input
ends with a one-line message and exit status 2.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import IO

from ranking.battle_files import Format, ReadResult, read_battles
from ranking.cli._output import Output, emit
from ranking.errors import RankingError

SUBCOMMAND_MODULES: tuple[str, ...] = (
    "rate",
    "alpharank",
    "bracket",
    "swiss",
    "simulate",
    "plan",
)


def build_parser() -> argparse.ArgumentParser:
    """Build the parser with every subcommand of :data:`SUBCOMMAND_MODULES`."""
    parser = argparse.ArgumentParser(prog="python -m ranking", description="Ludus ranking library.")
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name in SUBCOMMAND_MODULES:
        importlib.import_module(f"ranking.cli.{name}").register(subparsers)
    return parser


def add_output_option(parser: argparse.ArgumentParser) -> None:
    """Add the ``--output json|csv|table`` option every subcommand takes."""
    parser.add_argument("--output", choices=("json", "csv", "table"), default="table")


def add_logistic_options(parser: argparse.ArgumentParser) -> None:
    """Add ``--scale 400`` and ``--base 10``: P(i beats j) = 1 / (1 + base^(-(r_i - r_j)/scale))."""
    parser.add_argument("--scale", type=float, default=400.0)
    parser.add_argument("--base", type=float, default=10.0)


def add_battle_file_options(parser: argparse.ArgumentParser, *, note: str = "") -> None:
    """Add ``--anonymous-only`` and ``--skip-invalid``, read by :func:`read_battle_file`.

    ``note`` starts both help texts (``"battle input: "`` where the input may be other data).
    """
    parser.add_argument(
        "--anonymous-only",
        action="store_true",
        help=f"{note}keep only records whose 'anony' is true",
    )
    parser.add_argument(
        "--skip-invalid",
        action="store_true",
        help=f"{note}skip malformed rows (and report how many) instead of failing",
    )


def read_battle_file(
    source: str | Path | IO[str], args: argparse.Namespace, *, fmt: Format = "auto"
) -> ReadResult:
    """Read a battle file as :func:`add_battle_file_options` asked; report skipped rows.

    The count of skipped rows and the first of them go to stderr as a warning.
    """
    read = read_battles(
        source, fmt=fmt, skip_invalid=args.skip_invalid, anonymous_only=args.anonymous_only
    )
    if read.skipped:
        print(
            f"warning: skipped {read.skipped} malformed row"
            f"{'s' if read.skipped > 1 else ''} of {read.n_rows} "
            f"(first: line {read.errors[0][0]}: {read.errors[0][1]})",
            file=sys.stderr,
        )
    return read


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line on ``argv`` (``sys.argv[1:]`` by default); return the exit status.

    Bad input prints a one-line ``error: ...`` to stderr and returns 2.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        out: Output = args.handler(args)
    except (RankingError, ValueError, OSError, KeyError) as exc:
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if isinstance(exc, OSError) and exc.filename:
            message = f"{exc.filename}: {exc.strerror or message}"
        print(f"error: {message}", file=sys.stderr)
        return 2
    try:
        emit(out, args.output, sys.stdout)
        sys.stdout.flush()
    except BrokenPipeError:  # output piped into `head`: not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


__all__ = [
    "Output",
    "add_battle_file_options",
    "add_logistic_options",
    "add_output_option",
    "build_parser",
    "main",
    "read_battle_file",
]
