"""Print how often judge verdicts agree with human votes on the same matches."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand

from arena.services.judging import judge_agreement


class Command(BaseCommand):
    help = (
        "Agreement of LLM-judge results with human votes on shared battles "
        "(raw, without ties, Cohen's kappa)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--judge", default=None, help="only battles decided by this judge label"
        )
        parser.add_argument("--category", default=None)

    def handle(self, *args, judge, category, **options):
        self.stdout.write(json.dumps(judge_agreement(judge=judge, category=category), indent=2))
