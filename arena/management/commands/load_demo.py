from __future__ import annotations

from django.core.management.base import BaseCommand

from arena.services.demo import (
    demo_arena_pool,
    demo_judge_run,
    demo_kwise,
    demo_load,
    demo_tournaments,
)
from arena.services.leaderboard import leaderboard_rebuild_all


class Command(BaseCommand):
    help = "Load the demo competitors, prompts and battles (idempotent) and build the leaderboards."

    def add_arguments(self, parser):
        parser.add_argument("--battles", type=int, default=3000)
        parser.add_argument("--no-rebuild", action="store_true")
        parser.add_argument(
            "--no-tournaments", action="store_true", help="skip the demo tournaments and arena pool"
        )

    def handle(self, *args, **options):
        counts = demo_load(n_battles=options["battles"])
        self.stdout.write(
            f"demo: {counts['competitors']} competitors and {counts['battles']} battles added"
        )
        if not options["no_tournaments"]:
            for name, status in demo_tournaments().items():
                self.stdout.write(f"tournament {name!r}: {status}")
            self.stdout.write(f"arena: {demo_arena_pool()} battles added to the vote pool")
            self.stdout.write(f"demo judge run: {demo_judge_run()}")
        self.stdout.write(f"K-wise: {demo_kwise()} simulated K-wise votes added")
        if not options["no_rebuild"]:
            built = leaderboard_rebuild_all()
            self.stdout.write(f"leaderboards: {sum(built.values())} snapshots current")
