"""Database-level constraints and the append-only audit records."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from arena import models as m
from tests.factories import (
    BattleFactory,
    CompetitorFactory,
    MatchFactory,
    PromptFactory,
    TournamentFactory,
)

pytestmark = pytest.mark.django_db


def _refused(fn) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        fn()


def test_self_match_is_refused_by_the_database():
    c = CompetitorFactory()
    _refused(lambda: m.Match.objects.bulk_create([m.Match(competitor_a=c, competitor_b=c)]))
    assert m.Match.objects.count() == 0


def test_invalid_outcome_is_refused_by_the_database():
    match = MatchFactory()
    _refused(lambda: m.Match.objects.filter(pk=match.pk).update(outcome="A"))
    a, b = CompetitorFactory(), CompetitorFactory()
    _refused(
        lambda: m.Battle.objects.bulk_create(
            [m.Battle(model_a=a, model_b=b, outcome="winner", source="human")]
        )
    )
    _refused(
        lambda: m.Battle.objects.bulk_create(
            [m.Battle(model_a=a, model_b=a, outcome="tie", source="human")]
        )
    )
    assert m.Battle.objects.count() == 0


def test_a_pair_meets_once_per_round_whatever_the_sides():
    t = TournamentFactory()
    rnd = m.Round.objects.create(tournament=t, number=1)
    a, b = CompetitorFactory(), CompetitorFactory()
    prompt = PromptFactory()
    m.Match.objects.create(tournament=t, round=rnd, competitor_a=a, competitor_b=b, prompt=prompt)
    _refused(
        lambda: m.Match.objects.create(
            tournament=t, round=rnd, competitor_a=b, competitor_b=a, prompt=prompt
        )
    )
    rnd2 = m.Round.objects.create(tournament=t, number=2)
    m.Match.objects.create(tournament=t, round=rnd2, competitor_a=b, competitor_b=a, prompt=prompt)


def test_round_numbers_and_seeds_are_unique_and_positive():
    t = TournamentFactory()
    m.Round.objects.create(tournament=t, number=1)
    _refused(lambda: m.Round.objects.create(tournament=t, number=1))
    _refused(lambda: m.Round.objects.create(tournament=t, number=0))
    c = CompetitorFactory()
    m.Entry.objects.create(tournament=t, competitor=c, seed=1)
    _refused(lambda: m.Entry.objects.create(tournament=t, competitor=CompetitorFactory(), seed=1))
    _refused(lambda: m.Entry.objects.create(tournament=t, competitor=c, seed=2))


def test_pair_counts_are_non_negative():
    batch = m.ImportBatch.objects.create(fmt="pairs")
    a, b = CompetitorFactory(), CompetitorFactory()
    _refused(
        lambda: m.PairCount.objects.bulk_create(
            [m.PairCount(batch=batch, model_a=a, model_b=b, wins_a=-1, wins_b=0, ties=0)]
        )
    )


def test_one_vote_per_voter_and_battle():
    match = MatchFactory()
    m.Vote.objects.create(match=match, voter_hash="v1", outcome="model_a")
    _refused(lambda: m.Vote.objects.create(match=match, voter_hash="v1", outcome="model_b"))
    m.Vote.objects.create(match=match, voter_hash="v2", outcome="model_b")
    assert m.Vote.objects.count() == 2


def test_a_judge_step_is_recorded_once():
    match = MatchFactory()
    m.Judgment.objects.create(match=match, judge="j", order="ab", verdict="A>B", outcome="model_a")
    _refused(
        lambda: m.Judgment.objects.create(
            match=match, judge="j", order="ab", verdict="B>A", outcome="model_b"
        )
    )
    m.Judgment.objects.create(match=match, judge="j", order="ba", verdict="B>A", outcome="model_a")


def test_votes_judgments_and_battles_are_append_only():
    battle = BattleFactory()
    battle.outcome = "model_b"
    with pytest.raises(TypeError, match="append-only"):
        battle.save()
    with pytest.raises(TypeError, match="append-only"):
        battle.delete()
    with pytest.raises(TypeError, match="append-only"):
        m.Battle.objects.all().update(outcome="tie")
    with pytest.raises(TypeError, match="append-only"):
        m.Battle.objects.all().delete()
    battle.refresh_from_db()
    assert battle.outcome == "model_a"


def test_api_keys_are_stored_hashed():
    from tests.factories import UserFactory

    key, raw = m.ApiKey.issue(user=UserFactory())
    assert raw not in (key.key_hash, key.prefix)
    assert m.ApiKey.objects.get(key_hash=m.hash_secret(raw)) == key
    assert not m.ApiKey.objects.filter(key_hash=raw).exists()


def test_competitor_with_endpoint_kind_needs_a_url():
    _refused(lambda: m.Competitor.objects.create(name="x", kind="openai", endpoint_url=""))
