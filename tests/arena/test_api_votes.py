"""battles/next/ and votes/: anonymous serving, tokens, identities, idempotency, throttles."""

from __future__ import annotations

import time
import uuid

import pytest
from django.core import signing

from arena import models as m
from arena.services.votes import TOKEN_SALT
from tests.arena.test_api_common import API, assert_error, client_for, counts, servable_match

pytest_plugins = ["tests.arena.test_api_common"]
pytestmark = pytest.mark.django_db


def _next(client, **params):
    return client.get(f"{API}/battles/next/", params)


def _vote(client, token, outcome="A", key=None):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    return client.post(
        f"{API}/votes/", {"token": token, "outcome": outcome}, format="json", **headers
    )


def test_anonymous_flow_hides_then_reveals_identities(anon):
    match = servable_match(category="coding")
    r = _next(anon)
    assert r.status_code == 200, r.content
    body = r.json()
    assert set(body) == {"token", "expires_in", "prompt", "category", "answer_a", "answer_b"}
    assert match.competitor_a.name not in str(
        {k: v for k, v in body.items() if k != "answer_a" and k != "answer_b"}
    )
    assert body["category"] == "coding"
    assert "ludus_voter" in r.cookies and r.cookies["ludus_voter"]["httponly"]
    serve = m.BattleServe.objects.get()
    # The left answer belongs to the competitor shown as A.
    left = match.competitor_b if serve.swapped else match.competitor_a
    assert body["answer_a"] == f"answer of {left.name}"

    before = counts()
    v = _vote(anon, body["token"], "A")
    assert v.status_code == 201, v.content
    out = v.json()
    assert out["model_a"] == left.name
    assert out["recorded_outcome"] == ("model_b" if serve.swapped else "model_a")
    after = counts()
    assert after["Vote"] == before["Vote"] + 1 and after["Battle"] == before["Battle"] + 1
    battle = m.Battle.objects.get()
    assert (
        battle.source == "human"
        and battle.category == "coding"
        and battle.vote_id == out["vote_id"]
    )
    assert (battle.model_a_id, battle.model_b_id) == (match.competitor_a_id, match.competitor_b_id)
    serve.refresh_from_db()
    assert serve.voted_at is not None


@pytest.mark.parametrize(
    "choice,unswapped,swapped",
    [
        ("A", "model_a", "model_b"),
        ("B", "model_b", "model_a"),
        ("tie", "tie", "tie"),
        ("bothbad", "tie (bothbad)", "tie (bothbad)"),
    ],
)
def test_outcomes_are_de_swapped(choice, unswapped, swapped, anon):
    servable_match()
    token = _next(anon).json()["token"]
    serve = m.BattleServe.objects.get()
    out = _vote(anon, token, choice).json()
    assert out["recorded_outcome"] == (swapped if serve.swapped else unswapped)


def test_sides_are_swapped_sometimes():
    swaps = set()
    for _ in range(30):
        servable_match()
    client = client_for(None)
    for _ in range(30):
        assert _next(client).status_code == 200
    swaps = set(m.BattleServe.objects.values_list("swapped", flat=True))
    assert swaps == {True, False}


def test_not_served_twice_and_prefers_fewer_votes(anon, owner_client):
    voted = servable_match()
    fresh = servable_match()
    # owner votes on `voted` first
    r = _next(owner_client)
    first = m.BattleServe.objects.get()
    if first.match_id != voted.pk:
        voted, fresh = fresh, voted
    assert _vote(owner_client, r.json()["token"]).status_code == 201
    # the anonymous voter is served the match without votes first
    _next(anon)
    assert m.BattleServe.objects.exclude(pk=first.pk).get().match_id == fresh.pk
    _next(anon)
    r = _next(anon)
    assert_error(r, 404, "no_battle")


def test_category_filter(anon):
    servable_match(category="math")
    assert_error(_next(anon, category="coding"), 404, "no_battle")
    assert _next(anon, category="math").json()["category"] == "math"


def test_unservable_matches_are_skipped(anon):
    servable_match(status=m.Match.Status.GENERATING)
    incomplete = servable_match()
    incomplete.generations.filter(side="b").delete()
    assert_error(_next(anon), 404, "no_battle")


def test_duplicate_vote_and_used_token(anon):
    servable_match()
    token = _next(anon).json()["token"]
    assert _vote(anon, token).status_code == 201
    before = counts()
    assert_error(_vote(anon, token, "B"), 409, "already_voted")
    assert counts() == before


def test_forged_and_stale_tokens(anon, settings):
    servable_match()
    token = _next(anon).json()["token"]
    before = counts()
    assert_error(_vote(anon, token[:-3] + "abc"), 400, "invalid_token", "token")
    forged = signing.dumps({"s": 999999, "n": "x"}, salt=TOKEN_SALT)
    assert_error(_vote(anon, forged), 400, "invalid_token")
    wrong_key = signing.dumps({"s": 1, "n": "x"}, salt=TOKEN_SALT, key="not-the-secret")
    assert_error(_vote(anon, wrong_key), 400, "invalid_token")
    assert_error(_vote(anon, "garbage"), 400, "invalid_token")
    settings.LUDUS_BATTLE_TOKEN_MAX_AGE = 0
    time.sleep(1.1)
    assert_error(_vote(anon, token), 400, "token_expired")
    assert counts() == before


def test_vote_on_battle_served_to_someone_else(anon, owner_client, other_client):
    servable_match()
    token = _next(owner_client).json()["token"]
    before = counts()
    assert_error(_vote(other_client, token), 403, "not_served")
    fresh_anon = client_for(None)
    assert_error(_vote(fresh_anon, token), 403, "not_served")
    assert counts() == before
    assert _vote(owner_client, token).status_code == 201


def test_bad_input(anon):
    servable_match()
    token = _next(anon).json()["token"]
    before = counts()
    assert_error(_vote(anon, token, "C"), 400, "invalid", "outcome")
    assert_error(anon.post(f"{API}/votes/", {"token": 5}, format="json"), 400, "invalid", "outcome")
    assert_error(anon.post(f"{API}/votes/", "not json", content_type="application/json"), 400)
    assert_error(
        anon.post(f"{API}/votes/", {"token": ["x"], "outcome": "A"}, format="json"),
        400,
        "invalid",
        "token",
    )
    assert counts() == before


def test_idempotency_key_replays_first_response(anon):
    servable_match()
    token = _next(anon).json()["token"]
    key = str(uuid.uuid4())
    first = _vote(anon, token, "A", key=key)
    assert first.status_code == 201
    before = counts()
    again = _vote(anon, token, "A", key=key)
    assert again.status_code == 201 and again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert counts() == before
    # same key, different body
    assert_error(_vote(anon, token, "B", key=key), 422, "idempotency_mismatch")
    assert counts() == before


def test_key_reused_on_another_battle_writes_nothing(anon):
    # The first attempt with a key does not look it up: the vote on the other battle is written,
    # then the key's record refuses to be stored twice, and that vote is rolled back.
    servable_match()
    servable_match()
    first, second = (_next(anon).json()["token"] for _ in range(2))
    assert _vote(anon, first, "A", key="k").status_code == 201
    before = counts()
    assert_error(_vote(anon, second, "A", key="k"), 422, "idempotency_mismatch")
    assert counts() == before
    assert m.BattleServe.objects.filter(voted_at__isnull=False).count() == 1
    assert _vote(anon, second, "A", key="k2").status_code == 201


def test_idempotency_key_in_flight_gives_409(anon):
    servable_match()
    token = _next(anon).json()["token"]
    from arena.api.idempotency import _request_hash
    from arena.api.voters import voter_identity

    r = anon.get(f"{API}/accounts/me/")  # any request; we need the voter scope
    assert r.status_code in (401, 403)
    serve = m.BattleServe.objects.get()
    m.IdempotencyRecord.objects.create(
        scope=serve.voter_hash[:64],
        key="k1",
        request_hash=_request_hash({"token": token, "outcome": "A"}),
    )
    before = counts()
    assert_error(_vote(anon, token, "A", key="k1"), 409, "in_flight")
    assert counts() == before
    del voter_identity


def test_failed_vote_with_key_is_replayed_too(anon):
    servable_match()
    _next(anon)
    r1 = _vote(anon, "garbage", "A", key="k")
    r2 = _vote(anon, "garbage", "A", key="k")
    assert r1.status_code == r2.status_code == 400 and r1.json() == r2.json()


def test_authenticated_voter_and_session_csrf(owner, owner_client):
    from django.test import Client

    servable_match()
    token = _next(owner_client).json()["token"]
    assert m.BattleServe.objects.get().voter_hash  # served to the user
    # A session-authenticated browser must send the CSRF token.
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(owner)
    r = browser.post(
        f"{API}/votes/", {"token": token, "outcome": "A"}, content_type="application/json"
    )
    assert_error(r, 403)
    browser.get("/admin/login/")  # sets the csrftoken cookie
    csrf = browser.cookies["csrftoken"].value
    r = browser.post(
        f"{API}/votes/",
        {"token": token, "outcome": "A"},
        content_type="application/json",
        HTTP_X_CSRFTOKEN=csrf,
    )
    assert r.status_code == 201, r.content


def test_anonymous_browser_needs_no_csrf_token():
    from django.test import Client

    servable_match()
    browser = Client(enforce_csrf_checks=True)
    token = browser.get(f"{API}/battles/next/").json()["token"]
    r = browser.post(
        f"{API}/votes/", {"token": token, "outcome": "tie"}, content_type="application/json"
    )
    assert r.status_code == 201, r.content


def test_vote_without_cookie_is_refused(anon):
    servable_match()
    token = _next(anon).json()["token"]
    anon.cookies.clear()
    assert_error(_vote(anon, token), 403, "not_served")


@pytest.fixture(params=["locmem", "redis"])
def throttle_cache(request, settings):
    """DRF's sliding-window throttle kept in local memory and in Redis."""
    from django.core.cache import cache

    if request.param == "locmem":
        request.getfixturevalue("private_cache")
        yield
        return
    url = request.getfixturevalue("redis_url").rsplit("/", 1)[0] + "/14"
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": url,
            "KEY_PREFIX": f"throttle-test-{uuid.uuid4().hex}",
        }
    }
    yield
    cache.clear()


def test_throttles(anon, settings, throttle_cache):
    rates = dict(settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"])
    rates.update({"battles": "2/min", "votes": "1/min"})
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}
    for _ in range(4):
        servable_match()
    _next(anon)  # no cookie yet: counted against the IP; issues the voter cookie
    t1 = _next(anon).json()["token"]
    t2 = _next(anon).json()["token"]
    assert_error(_next(anon), 429, "throttled")
    assert _vote(anon, t1).status_code == 201
    assert_error(_vote(anon, t2), 429, "throttled")


def test_ip_window_counts_every_voter_and_a_refusal_still_counts_the_other_window(
    settings, throttle_cache
):
    from rest_framework.test import APIClient

    rates = dict(settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"])
    rates.update({"battles": "2/min", "battles_ip": "3/min"})
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}
    for _ in range(4):
        servable_match()
    first, second = APIClient(), APIClient()  # two voters behind one address
    _next(first)  # no cookie yet: counted against the IP only
    _next(first)  # voter 1/2, IP 2/3
    _next(first)  # voter 2/2, IP 3/3
    # voter refused; IP refused too, so neither window records it
    assert_error(_next(first), 429, "throttled")
    # another voter from the same address: IP window full (3/3), voter window records 1/2
    assert_error(_next(second), 429, "throttled")


def test_vote_flow_throttles_read_and_write_the_cache_once(anon, throttle_cache, monkeypatch):
    from django.core.cache import caches

    servable_match()
    calls: list[str] = []
    depth = [0]  # locmem's get_many calls get: count the outermost call only
    backend = caches["default"]  # the object DRF's throttle cache proxy resolves to
    for name in ("get", "get_many", "set", "set_many", "add", "incr"):
        original = getattr(backend, name)

        def spy(*args, _name=name, _original=original, **kwargs):
            if not depth[0]:
                calls.append(_name)
            depth[0] += 1
            try:
                return _original(*args, **kwargs)
            finally:
                depth[0] -= 1

        monkeypatch.setattr(backend, name, spy)
    assert _next(anon).status_code == 200
    assert sorted(calls) == ["get_many", "set_many"]


def test_vote_schedules_leaderboard_rebuild(anon, monkeypatch, django_capture_on_commit_callbacks):
    from arena.services import leaderboard

    calls = []
    monkeypatch.setattr(
        leaderboard, "leaderboard_schedule_rebuild", lambda *a, **k: calls.append(1), raising=False
    )
    servable_match()
    token = _next(anon).json()["token"]
    with django_capture_on_commit_callbacks(execute=True):
        assert _vote(anon, token).status_code == 201
    assert calls == [1]


def test_simulated_quality_marker_is_never_shown_to_voters(anon):
    match = servable_match()
    m.Generation.objects.filter(match=match).delete()
    for side, comp in (("a", match.competitor_a), ("b", match.competitor_b)):
        m.Generation.objects.create(
            match=match,
            side=side,
            competitor=comp,
            text=f"Answer: 1. A point.\n[sim quality={1000 + len(side)}.5]",
        )
    body = _next(anon).json()
    for key in ("answer_a", "answer_b"):
        assert body[key] == "Answer: 1. A point."
    # The stored answer (which the simulated judge reads) is unchanged.
    assert m.Generation.objects.filter(match=match, text__contains="[sim quality=").count() == 2


def test_match_vote_count_follows_accepted_votes_only(anon, owner_client, other_client):
    match = servable_match()
    assert match.n_votes == 0
    token = _next(anon).json()["token"]
    assert _vote(anon, token, key="k-1").status_code == 201
    assert _vote(anon, token, key="k-1").status_code == 201  # a replay
    assert_error(_vote(anon, token, "B"), 409, "already_voted")
    assert_error(_vote(other_client, token), 403, "not_served")
    match.refresh_from_db()
    assert match.n_votes == 1 == m.Vote.objects.filter(match=match).count()
    assert _vote(owner_client, _next(owner_client).json()["token"], "tie").status_code == 201
    match.refresh_from_db()
    assert match.n_votes == 2 == m.Vote.objects.filter(match=match).count()
