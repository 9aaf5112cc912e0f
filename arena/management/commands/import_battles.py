"""``manage.py import_battles FILE [--skip-invalid] [--create-models] [--format F] [--category C]``.

Long imports print a progress line to stderr every few seconds (``--quiet`` turns it off).
"""

from __future__ import annotations

import sys
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from arena.exceptions import ApplicationError
from arena.services.battles_io import IMPORT_FORMATS, ImportProgress, battles_import

PROGRESS_EVERY_SECONDS = 2.0


class Command(BaseCommand):
    help = (
        "Import a battle file (JSON, JSON Lines, battle CSV or pair-counts CSV; '-' reads stdin)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file")
        parser.add_argument("--format", dest="fmt", default="auto", choices=IMPORT_FORMATS)
        parser.add_argument(
            "--skip-invalid", action="store_true", help="Drop malformed rows instead of failing."
        )
        parser.add_argument(
            "--create-models",
            action="store_true",
            help="Create unknown model names as competitors.",
        )
        parser.add_argument(
            "--anonymous-only", action="store_true", help="Keep only records with anony true."
        )
        parser.add_argument("--category", default="general")
        parser.add_argument(
            "--quiet", action="store_true", help="Do not print progress lines to stderr."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path = options["file"]
        source: Any = sys.stdin.buffer if path == "-" else path
        started = last = time.monotonic()

        def progress(state: ImportProgress) -> None:
            nonlocal last
            now = time.monotonic()
            if options["quiet"] or now - last < PROGRESS_EVERY_SECONDS:
                return
            last = now
            elapsed = now - started
            self.stderr.write(
                f"  {state.n_rows:,} rows read, {state.n_stored:,} stored ({state.writer}), "
                f"{state.skipped:,} malformed, {elapsed:.0f} s, "
                f"{state.n_rows / max(elapsed, 1e-9):,.0f} rows/s"
            )

        try:
            report = battles_import(
                source=source,
                filename="<stdin>" if path == "-" else str(path),
                fmt=options["fmt"],
                skip_invalid=options["skip_invalid"],
                create_models=options["create_models"],
                anonymous_only=options["anonymous_only"],
                category=options["category"],
                progress=progress,
            )
        except ApplicationError as exc:
            lines = [str(exc.message)]
            lines += [f"  line {e['line']}: {e['message']}" for e in exc.extra.get("errors", [])]
            for field, messages in exc.field_errors.items():
                lines += [f"  {field}: {msg}" for msg in messages]
            raise CommandError("\n".join(lines)) from None
        except OSError as exc:
            raise CommandError(f"cannot read {path}: {exc}") from None
        self.stdout.write(
            f"imported {report.n_battles} battles from {report.n_rows} rows as {report.kind} "
            f"({report.n_stored} rows stored, batch {report.batch_id}); skipped {report.skipped}"
        )
        if report.n_kwise:
            self.stdout.write(f"imported {report.n_kwise} K-wise votes")
        if report.created_models:
            shown = ", ".join(report.created_models[:20])
            self.stdout.write(f"created {len(report.created_models)} models: {shown}")
        for error in report.errors:
            self.stderr.write(f"  skipped line {error['line']}: {error['message']}")
