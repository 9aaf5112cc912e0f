"""Freeze finished matches' outcomes as a calibration set for the judge drift gate."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from arena.exceptions import ApplicationError
from arena.models import Match
from arena.services.judge_calibration import calibration_set_freeze


class Command(BaseCommand):
    help = "Freeze the outcomes of finished matches as the reference verdicts of a calibration set."

    def add_arguments(self, parser):
        parser.add_argument("name", help="the calibration set's name")
        scope = parser.add_mutually_exclusive_group(required=True)
        scope.add_argument("--tournament", type=int, help="a tournament's finished matches")
        scope.add_argument("--matches", help="comma-separated match ids")
        parser.add_argument("--limit", type=int, default=50, help="at most this many matches")

    def handle(self, *args, name, tournament, matches, limit, **options):
        if tournament is not None:
            ids = list(
                Match.objects.filter(
                    tournament_id=tournament, status=Match.Status.DONE, outcome__isnull=False
                )
                .order_by("id")
                .values_list("id", flat=True)[: max(1, limit)]
            )
            if not ids:
                raise CommandError(f"tournament {tournament} has no finished match")
        else:
            try:
                ids = [int(x) for x in matches.split(",") if x.strip()]
            except ValueError:
                raise CommandError(
                    f"--matches must be comma-separated ids; got {matches!r}"
                ) from None
        try:
            added = calibration_set_freeze(name=name, match_ids=ids)
        except ApplicationError as exc:
            details = "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.field_errors.items())
            raise CommandError(f"{exc.message} {details}") from None
        self.stdout.write(f"calibration set {name!r}: {added} matches frozen")
