"""Waiting for, and checking, a tournament that a real Celery worker plays."""

from __future__ import annotations

import time
from collections import Counter

import pytest

from arena.models import Battle, Generation, Match, Source, Tournament
from arena.services.tournaments import tournament_progress


def wait_finished(tournament: Tournament, worker, *, timeout: float) -> None:
    """Wait until ``tournament`` is completed; fail with its progress and the worker's log."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        tournament.refresh_from_db()
        if tournament.status == Tournament.Status.COMPLETED:
            return
        time.sleep(0.25)
    progress = tournament_progress(tournament=tournament)
    pytest.fail(
        f"tournament not finished in {timeout} s: {progress}\n"
        f"--- worker log (tail) ---\n{worker.log[-6000:]}"
    )


def assert_each_match_judged_once(tournament: Tournament, *, expect_matches: int) -> None:
    """Every match done, with one judged battle and two generations each: none counted twice."""
    matches = Match.objects.filter(tournament=tournament)
    statuses = Counter(matches.values_list("status", flat=True))
    errors = list(matches.exclude(error="").values_list("status", "attempts", "error"))
    assert statuses == {Match.Status.DONE: expect_matches}, (statuses, errors)
    per_match = Counter(
        Battle.objects.filter(match__tournament=tournament, source=Source.JUDGE).values_list(
            "match_id", flat=True
        )
    )
    assert len(per_match) == expect_matches and set(per_match.values()) == {1}
    assert Generation.objects.filter(match__tournament=tournament).count() == 2 * expect_matches
