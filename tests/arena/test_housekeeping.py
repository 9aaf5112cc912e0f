"""Hourly pruning of expired Idempotency-Key records and never-voted battle serves."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from arena import models as m
from arena.services.housekeeping import prune_expired
from tests.arena.test_api_common import API, assert_error, servable_match

pytest_plugins = ["tests.arena.test_api_common"]
pytestmark = pytest.mark.django_db


def _vote(client, token, key):
    return client.post(
        f"{API}/votes/", {"token": token, "outcome": "A"}, format="json", HTTP_IDEMPOTENCY_KEY=key
    )


def _age(queryset, field, hours):
    queryset.update(**{field: timezone.now() - timedelta(hours=hours)})


def test_expired_records_and_unvoted_serves_go_and_everything_else_stays(anon, settings):
    settings.LUDUS_BATTLE_TOKEN_MAX_AGE = 3600
    settings.LUDUS_IDEMPOTENCY_RETENTION_HOURS = 24
    for _ in range(3):
        servable_match()
    tokens = [anon.get(f"{API}/battles/next/").json()["token"] for _ in range(3)]
    assert _vote(anon, tokens[0], "key-0").status_code == 201
    voted, old_unvoted, fresh_unvoted = (
        m.BattleServe.objects.get(voted_at__isnull=False),
        *m.BattleServe.objects.filter(voted_at__isnull=True),
    )
    _age(
        m.BattleServe.objects.filter(pk__in=[voted.pk, old_unvoted.pk]), "served_at", 3
    )  # token 1 h + margin 1 h
    _age(m.BattleServe.objects.filter(pk=fresh_unvoted.pk), "served_at", 1.5)
    old = m.IdempotencyRecord.objects.get()
    m.IdempotencyRecord.objects.create(
        scope="s", key="recent", request_hash="h", status_code=201, response={}
    )
    _age(m.IdempotencyRecord.objects.filter(pk=old.pk), "created_at", 25)

    assert prune_expired() == {"idempotency_records": 1, "unvoted_serves": 1}
    assert set(m.BattleServe.objects.values_list("pk", flat=True)) == {voted.pk, fresh_unvoted.pk}
    assert list(m.IdempotencyRecord.objects.values_list("key", flat=True)) == ["recent"]
    assert m.Vote.objects.count() == 1 == m.Battle.objects.filter(source="human").count()
    assert prune_expired() == {"idempotency_records": 0, "unvoted_serves": 0}  # idempotent

    # After its record is gone, a late retry of the vote is a new request: refused, never
    # counted twice.
    assert_error(_vote(anon, tokens[0], "key-0"), 409, "already_voted")
    assert m.Vote.objects.count() == 1


def test_prunes_in_batches(settings):
    settings.LUDUS_IDEMPOTENCY_RETENTION_HOURS = 1
    for i in range(7):
        m.IdempotencyRecord.objects.create(
            scope="s", key=f"k{i}", request_hash="h", status_code=201, response={}
        )
    _age(m.IdempotencyRecord.objects.all(), "created_at", 2)
    assert prune_expired(batch_size=3)["idempotency_records"] == 7
    assert not m.IdempotencyRecord.objects.exists()


def test_the_scheduler_runs_it_hourly():
    from workers.celery import app

    entry = next(
        e for e in app.conf.beat_schedule.values() if e["task"].endswith("prune_expired_task")
    )
    assert entry["schedule"] == 3600.0
