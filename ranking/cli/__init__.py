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


__all__ = ["Output", "add_output_option", "build_parser", "main"]
