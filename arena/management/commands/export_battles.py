"""``manage.py export_battles``: the stored battles as a file.

``[--format jsonl|csv|pairs] [--source S] [--category C] [--snapshot ID] [-o FILE]``
"""

from __future__ import annotations

import sys
from typing import Any, TextIO

from django.core.management.base import BaseCommand, CommandError, CommandParser

from arena.exceptions import ApplicationError
from arena.services.battles_io import EXPORT_FORMATS, battles_export


class Command(BaseCommand):
    help = "Write the stored battles as JSON Lines or CSV records, or as pair counts."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--format", dest="fmt", default="jsonl", choices=EXPORT_FORMATS)
        parser.add_argument("--source", choices=["human", "judge", "import"])
        parser.add_argument("--category")
        parser.add_argument(
            "--snapshot",
            type=int,
            help=(
                "A leaderboard snapshot id: exactly the battles it was computed from "
                "(not with --source/--category)."
            ),
        )
        parser.add_argument("-o", "--output", help="Write to this file instead of stdout.")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            chunks = battles_export(
                fmt=options["fmt"],
                source=options["source"],
                category=options["category"],
                snapshot=options["snapshot"],
            )
        except ApplicationError as exc:
            details = "; ".join(f"{k}: {' '.join(v)}" for k, v in (exc.field_errors or {}).items())
            raise CommandError(f"{exc.message} {details}".strip()) from None
        if options["output"]:
            with open(options["output"], "w", encoding="utf-8", newline="") as out:
                for chunk in chunks:
                    out.write(chunk)
        else:
            stream: TextIO = getattr(self.stdout, "_out", sys.stdout)
            for chunk in chunks:
                stream.write(chunk)
