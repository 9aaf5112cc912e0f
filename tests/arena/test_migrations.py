"""Data migrations: run forwards on a database holding data from before them."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = pytest.mark.django_db(transaction=True)


def _migrate(target: list[tuple[str, str]]):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(target)
    return executor.loader.project_state(target).apps


def test_0002_counts_the_votes_already_recorded_per_match():
    apps = _migrate([("arena", "0001_initial")])
    try:
        Competitor = apps.get_model("arena", "Competitor")
        Match = apps.get_model("arena", "Match")
        Vote = apps.get_model("arena", "Vote")
        a = Competitor.objects.create(name="mig-a")
        b = Competitor.objects.create(name="mig-b")
        m1, m2, m3 = (
            Match.objects.create(competitor_a=a, competitor_b=b, status="done") for _ in range(3)
        )
        for i in range(3):
            Vote.objects.create(match=m1, voter_hash=f"v{i}", outcome="model_a")
        Vote.objects.create(match=m2, voter_hash="v0", outcome="tie")
        apps = _migrate([("arena", "0002_vote_path_indexes")])
        Match = apps.get_model("arena", "Match")
        assert {m.pk: m.n_votes for m in Match.objects.all()} == {m1.pk: 3, m2.pk: 1, m3.pk: 0}
    finally:
        _migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())


def test_models_and_migrations_agree():
    from django.core.management import call_command

    call_command(
        "makemigrations", "--check", "--dry-run", verbosity=0
    )  # exits non-zero when a migration is missing
