"""Create and start a tournament from the command line (on the workers, or in this process)."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from arena.exceptions import ApplicationError
from arena.formats import format_kinds
from arena.services.tournaments import (
    tournament_create,
    tournament_progress,
    tournament_run_inline,
    tournament_start,
)


class Command(BaseCommand):
    help = "Create a tournament and start it (on the Celery workers, or played here with --inline)."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--format", required=True, choices=format_kinds())
        parser.add_argument(
            "--competitors", required=True, help="comma-separated competitor names, in seed order"
        )
        parser.add_argument("--prompt-sets", required=True, help="comma-separated prompt set names")
        parser.add_argument("--config", default="{}", help="format configuration (JSON)")
        parser.add_argument(
            "--judge-pipeline",
            default="{}",
            help="judge pipeline (JSON); default one simulated judge",
        )
        parser.add_argument("--seed", type=int, default=None)
        parser.add_argument(
            "--inline", action="store_true", help="play it to the end in this process"
        )

    def handle(
        self,
        *args,
        name,
        format,
        competitors,
        prompt_sets,
        config,
        judge_pipeline,
        seed,
        inline,
        **options,
    ):
        try:
            config_obj = json.loads(config)
            pipeline_obj = json.loads(judge_pipeline)
        except json.JSONDecodeError as exc:
            raise CommandError(f"--config and --judge-pipeline must be JSON: {exc}") from None
        try:
            tournament = tournament_create(
                name=name,
                format=format,
                competitors=[c.strip() for c in competitors.split(",") if c.strip()],
                config=config_obj,
                prompt_sets=[p.strip() for p in prompt_sets.split(",") if p.strip()],
                judge_pipeline=pipeline_obj or None,
                seed=seed,
            )
        except ApplicationError as exc:
            details = "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.field_errors.items())
            raise CommandError(f"{exc.message} {details}") from None
        if inline:
            tournament = tournament_run_inline(tournament=tournament)
            standings = tournament.results.get("standings", [])
            for row in standings:
                self.stdout.write(f"{row['rank']:>3}  {row['name']:<30} {row['points']:>5g}")
        else:
            tournament_start(tournament=tournament)
        self.stdout.write(json.dumps(tournament_progress(tournament=tournament)))
