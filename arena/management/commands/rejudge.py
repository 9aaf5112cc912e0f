"""Re-judge stored matches with another judge pipeline (a named judge run) and show progress."""

from __future__ import annotations

import json
import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from arena.exceptions import ApplicationError
from arena.models import JudgeRun
from arena.services.judge_runs import judge_run_create, judge_run_progress


def _errors(exc: ApplicationError) -> str:
    details = "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.field_errors.items())
    return f"{exc.message} {details}".strip()


class Command(BaseCommand):
    help = (
        "Re-judge finished matches (a tournament's, the arena's, or a list) with another judge "
        "pipeline, without regenerating answers; the verdicts go to a named judge run with its "
        "own board. Waits for the run and shows its progress unless --no-wait."
    )

    def add_arguments(self, parser):
        parser.add_argument("name", help="the judge run's name (unique)")
        parser.add_argument(
            "--pipeline", required=True, help="judge pipeline as JSON, or @FILE holding it"
        )
        scope = parser.add_mutually_exclusive_group(required=True)
        scope.add_argument("--tournament", type=int, help="a tournament id")
        scope.add_argument("--arena", action="store_true", help="the open arena's matches")
        scope.add_argument("--matches", help="comma-separated match ids")
        parser.add_argument("--calibration-set", default=None, help="the drift gate's set")
        parser.add_argument("--no-wait", action="store_true", help="return once it is queued")
        parser.add_argument(
            "--timeout", type=float, default=3600.0, help="seconds to wait (default 3600)"
        )

    def handle(self, *args, name, pipeline, tournament, arena, matches, **options):
        text = pipeline
        if pipeline.startswith("@"):
            try:
                text = Path(pipeline[1:]).read_text()
            except OSError as exc:
                raise CommandError(f"--pipeline: cannot read {pipeline[1:]}: {exc}") from None
        try:
            config = json.loads(text)
        except json.JSONDecodeError as exc:
            raise CommandError(f"--pipeline must be JSON: {exc}") from None
        match_ids = None
        if matches is not None:
            try:
                match_ids = [int(x) for x in matches.split(",") if x.strip()]
            except ValueError:
                raise CommandError(
                    f"--matches must be comma-separated match ids; got {matches!r}"
                ) from None
        try:
            run = judge_run_create(
                name=name,
                pipeline=config,
                tournament_id=tournament,
                arena=arena,
                match_ids=match_ids,
                calibration_set=options["calibration_set"],
            )
        except ApplicationError as exc:
            raise CommandError(_errors(exc)) from None
        self.stdout.write(f"judge run {run.name!r} (id {run.pk}): {len(run.match_ids)} matches")
        if options["no_wait"]:
            return
        deadline = time.monotonic() + options["timeout"]
        last = None
        while True:
            run.refresh_from_db()
            progress = judge_run_progress(run=run)
            line = f"{run.status}: {progress['judged']}/{progress['matches']} matches judged"
            if line != last:
                self.stdout.write(line)
                last = line
            if run.status == JudgeRun.Status.FAILED:
                raise CommandError(f"judge run {run.name!r} failed: {run.error}")
            if run.status == JudgeRun.Status.DONE:
                break
            if time.monotonic() > deadline:
                raise CommandError(
                    f"judge run {run.name!r} not finished after {options['timeout']:g} s "
                    "(it goes on on the workers)"
                )
            time.sleep(0.5)
        ratings = run.board.get("ratings", [])
        self.stdout.write(
            f"done: {progress['undecided']} undecided, {progress['calls']} judge calls, "
            f"cost {progress['cost']:.6f}"
        )
        for row in ratings:
            lo = "-" if row["lower"] is None else f"{row['lower']:.1f}"
            hi = "-" if row["upper"] is None else f"{row['upper']:.1f}"
            self.stdout.write(f"{row['model']:<30} {row['rating']:8.1f}  [{lo}, {hi}]")
