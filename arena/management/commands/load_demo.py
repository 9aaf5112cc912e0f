from __future__ import annotations

from django.core.management.base import BaseCommand

from arena.services.demo import demo_load
from arena.services.leaderboard import leaderboard_rebuild_all


class Command(BaseCommand):
    help = "Load the demo competitors, prompts and battles (idempotent) and build the leaderboards."

    def add_arguments(self, parser):
        parser.add_argument("--battles", type=int, default=3000)
        parser.add_argument("--no-rebuild", action="store_true")

    def handle(self, *args, **options):
        counts = demo_load(n_battles=options["battles"])
        self.stdout.write(f"demo: {counts['competitors']} competitors and {counts['battles']} battles added")
        if not options["no_rebuild"]:
            built = leaderboard_rebuild_all()
            self.stdout.write(f"leaderboards: {sum(built.values())} snapshots current")
