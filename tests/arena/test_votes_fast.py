"""The prepared-statement vote path (``arena/services/votes_fast.py``) against its ORM twin.

The same sequence of requests to ``votes/`` (accepted votes on plain and side-swapped serves,
categories from the prompt and from its set, Idempotency-Key replays and a reused key with
another body, second votes on a closed serve, another voter's token, forged, unknown, expired
and malformed tokens, bad outcomes) runs once with ``LUDUS_VOTES_FAST_SQL`` off and once on,
each on fresh matches; the responses and every row written (Vote, Battle, BattleServe,
Match.n_votes, IdempotencyRecord) must be the same once database ids, voter hashes and times
are replaced by labels in order of first appearance.

PostgreSQL only (the fast path exists only there): skips on SQLite, fails in CI.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.core import signing
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from arena import models as m
from arena.api.voters import COOKIE_NAME, COOKIE_SALT
from arena.services.votes import TOKEN_SALT, vote_sql_fast, voter_hash_make
from tests.arena.test_api_common import API, servable_match
from tests.conftest import skip_or_fail
from tests.factories import CompetitorFactory, MatchFactory, PromptFactory, UserFactory

pytestmark = pytest.mark.django_db

_OURS = ("FOR UPDATE OF s", "WITH v AS")


@pytest.fixture(autouse=True)
def _postgresql_only():
    if connection.vendor != "postgresql":
        skip_or_fail(
            f"the fast vote path exists only on PostgreSQL; the test database is "
            f"{connection.vendor}: run with DATABASE_URL=postgres://..."
        )


def _prepared_here() -> list[str]:
    """Statements of the fast path prepared on this test's database session."""
    with connection.cursor() as cur:
        cur.execute("SELECT statement FROM pg_prepared_statements")
        return [s for (s,) in cur.fetchall() if any(marker in s for marker in _OURS)]


class _Labels:
    """Replaces run-specific values (ids, hashes, times) by labels in order of appearance."""

    def __init__(self) -> None:
        self.seen: dict[tuple[str, Any], str] = {}

    def __call__(self, kind: str, value: Any) -> str | None:
        if value is None:
            return None
        key = (kind, value)
        if key not in self.seen:
            self.seen[key] = f"{kind}{sum(1 for k, _ in self.seen if k == kind)}"
        return self.seen[key]


def _anon_client(anon_id: str) -> APIClient:
    client = APIClient()
    signer = signing.get_cookie_signer(salt=COOKIE_NAME + COOKIE_SALT)
    client.cookies[COOKIE_NAME] = signer.sign(anon_id)
    return client


def _serve(match: m.Match, voter_hash: str, *, swapped: bool) -> tuple[m.BattleServe, str]:
    serve = m.BattleServe.objects.create(
        match=match, voter_hash=voter_hash, swapped=swapped, nonce=uuid.uuid4().hex
    )
    return serve, signing.dumps({"s": serve.pk, "n": serve.nonce}, salt=TOKEN_SALT)


def _scenario(settings: Any) -> dict[str, Any]:
    """Run the vote sequence on fresh matches; the responses and rows, labelled."""
    run = uuid.uuid4().hex[:8]  # keys and identities of this run only
    anon1, anon2 = f"anon1-{run}", f"anon2-{run}"
    v1, v2 = _anon_client(anon1), _anon_client(anon2)
    user = UserFactory()
    u = APIClient()
    u.force_authenticate(user)
    h1, h2 = voter_hash_make(anon_id=anon1), voter_hash_make(anon_id=anon2)
    hu = voter_hash_make(user_id=user.pk)

    coding = servable_match(category="coding")
    # The answers' style counts travel from the match to the human battle (style control).
    coding.conv_metadata = {"sum_assistant_a_tokens": 12, "sum_assistant_b_tokens": 30}
    coding.save(update_fields=["conv_metadata"])
    from_set = MatchFactory(
        competitor_a=CompetitorFactory(),
        competitor_b=CompetitorFactory(),
        prompt=PromptFactory(category="", prompt_set__category="math", prompt_set__public=True),
        status=m.Match.Status.AWAITING_VOTES,
    )
    plain = servable_match()
    closed = servable_match(status=m.Match.Status.DONE)
    matches = [coding, from_set, plain, closed]

    s1, t1 = _serve(coding, h1, swapped=False)
    s2, t2 = _serve(from_set, h1, swapped=True)
    s3, t3 = _serve(from_set, h2, swapped=False)
    s4, t4 = _serve(plain, hu, swapped=True)
    s5, t5 = _serve(closed, h2, swapped=True)
    s6, t6 = _serve(plain, h1, swapped=False)
    s7, t7 = _serve(closed, h1, swapped=False)
    forged = t1[:-2] + ("AA" if not t1.endswith("AA") else "BB")
    unknown = signing.dumps({"s": 2**31 - 7, "n": "x" * 32}, salt=TOKEN_SALT)
    wrong_nonce = signing.dumps({"s": s6.pk, "n": "y" * 32}, salt=TOKEN_SALT)
    malformed = signing.dumps({"s": "one", "n": 2}, salt=TOKEN_SALT)
    k = f"key-{run}"

    steps: list[tuple[APIClient, dict[str, Any], str | None]] = [
        (v1, {"token": t1, "outcome": "A"}, k + "1"),  # 201
        (v1, {"token": t1, "outcome": "A"}, k + "1"),  # replayed 201
        (v1, {"token": t1, "outcome": "B"}, k + "1"),  # 422: same key, other body
        (v1, {"token": t1, "outcome": "B"}, k + "2"),  # 409: this serve is closed
        (v1, {"token": t1, "outcome": "tie"}, None),  # 409 without a key
        (v1, {"token": t1, "outcome": "B"}, k + "2"),  # the stored 409, replayed
        (v2, {"token": t2, "outcome": "A"}, k + "3"),  # 403: served to v1
        (v1, {"token": t2, "outcome": "B"}, k + "4"),  # 201 on a swapped serve
        (v2, {"token": t3, "outcome": "tie"}, k + "1"),  # 201: the same key, another voter
        (u, {"token": t4, "outcome": "bothbad"}, k + "5"),  # 201, logged-in voter
        (v2, {"token": t5, "outcome": "A"}, None),  # 201 on a finished match
        (v1, {"token": t6, "outcome": "maybe"}, k + "6"),  # 400: bad outcome
        (v1, {"token": forged, "outcome": "A"}, k + "7"),  # 400: forged
        (v1, {"token": unknown, "outcome": "A"}, None),  # 400: unknown battle
        (v1, {"token": wrong_nonce, "outcome": "A"}, None),  # 400: wrong nonce
        (v1, {"token": malformed, "outcome": "A"}, None),  # 400: malformed
        (v1, {"outcome": "A"}, None),  # 400: no token
        (v2, {"token": t6, "outcome": "B"}, None),  # 403: served to v1
        (v1, {"token": t6, "outcome": "B"}, k + "8"),  # 201
        (v1, {"token": t6, "outcome": "B"}, k + "8"),  # replayed 201
    ]
    label = _Labels()
    for voter, name in ((h1, "v1"), (h2, "v2"), (hu, "user")):
        label.seen[("voter", voter)] = name
        label.seen[("scope", voter[:64])] = name
    for i, s in enumerate([s1, s2, s3, s4, s5, s6, s7]):
        label.seen[("serve", s.pk)] = f"serve{i}"
    for i, x in enumerate(matches):
        label.seen[("match", x.pk)] = f"match{i}"
    names = {c.pk: c.name for x in matches for c in (x.competitor_a, x.competitor_b)}
    for i, x in enumerate(matches):
        label.seen[("model", x.competitor_a.name)] = f"m{i}a"
        label.seen[("model", x.competitor_b.name)] = f"m{i}b"

    def response(r: Any) -> tuple[Any, ...]:
        body = r.json()
        if r.status_code == 201:
            body = {
                **body,
                "vote_id": label("vote", body["vote_id"]),
                "battle_id": label("battle", body["battle_id"]),
                "created_at": label("time", body["created_at"]),
                "model_a": label("model", body["model_a"]),
                "model_b": label("model", body["model_b"]),
            }
        return r.status_code, r.get("Idempotent-Replayed"), body

    responses = []
    for client, payload, key in steps:
        headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
        r = client.post(f"{API}/votes/", payload, format="json", **headers)
        assert r.status_code < 500, r.content
        responses.append(response(r))
    settings.LUDUS_BATTLE_TOKEN_MAX_AGE = 0  # every token is now expired
    r = v1.post(f"{API}/votes/", {"token": t6, "outcome": "A"}, format="json")
    responses.append(response(r))
    settings.LUDUS_BATTLE_TOKEN_MAX_AGE = 3600
    # Last, an accepted vote with no refusal after it: psycopg forgets every prepared
    # statement of a connection at any ROLLBACK (savepoints included), so this shows what the
    # vote ran on, and whether Django's cursor (which CaptureQueriesContext sees) wrote it.
    with CaptureQueriesContext(connection) as queries:
        r = v1.post(f"{API}/votes/", {"token": t7, "outcome": "tie"}, format="json")
    responses.append(response(r))
    prepared = _prepared_here()
    orm_writes = [q["sql"] for q in queries.captured_queries if 'INTO "arena_vote"' in q["sql"]]

    def iso(t: Any) -> str | None:
        return None if t is None else label("time", t.isoformat())

    votes = [
        (
            label("vote", v.pk),
            label("match", v.match_id),
            label("serve", v.serve_id),
            label("voter", v.voter_hash),
            v.ip_hash,
            v.outcome,
            iso(v.created_at),
        )
        for v in m.Vote.objects.filter(match__in=matches).order_by("pk")
    ]
    battles = [
        (
            label("battle", b.pk),
            label("model", names[b.model_a_id]),
            label("model", names[b.model_b_id]),
            b.outcome,
            b.source,
            b.category,
            b.anony,
            b.judge,
            iso(b.tstamp),
            label("match", b.match_id),
            label("vote", b.vote_id),
            b.batch_id,
            b.conv_metadata,
        )
        for b in m.Battle.objects.filter(match__in=matches).order_by("pk")
    ]
    serve_rows = [
        (label("serve", s.pk), label("voter", s.voter_hash), s.swapped, iso(s.voted_at))
        for s in m.BattleServe.objects.filter(match__in=matches).order_by("pk")
    ]
    n_votes = [x.n_votes for x in m.Match.objects.filter(pk__in=[x.pk for x in matches])]
    scopes = {h[:64] for h in (h1, h2, hu)}
    records = [
        (label("scope", r.scope), r.key.removeprefix(k), r.status_code, _response_data(r, label))
        for r in m.IdempotencyRecord.objects.filter(scope__in=scopes).order_by("pk")
    ]
    return {
        "responses": responses,
        "votes": votes,
        "battles": battles,
        "serves": serve_rows,
        "n_votes": sorted(n_votes),
        "records": records,
        "prepared": len(prepared),
        "orm_writes": len(orm_writes),
    }


def _response_data(record: m.IdempotencyRecord, label: _Labels) -> Any:
    data = dict(record.response)
    if record.status_code == 201:
        data["vote_id"] = label("vote", data["vote_id"])
        data["battle_id"] = label("battle", data["battle_id"])
        data["created_at"] = label("time", data["created_at"])
        data["model_a"] = label("model", data["model_a"])
        data["model_b"] = label("model", data["model_b"])
    return data


def test_fast_path_is_the_orm_paths_twin(settings):
    settings.LUDUS_VOTES_FAST_SQL = False
    assert not vote_sql_fast()
    orm = _scenario(settings)
    assert (orm.pop("prepared"), orm.pop("orm_writes")) == (0, 1)  # the ORM path prepares nothing

    settings.LUDUS_VOTES_FAST_SQL = True
    assert vote_sql_fast()
    fast = _scenario(settings)
    # the serve lookup and the write ran as two prepared statements, not through the ORM
    assert (fast.pop("prepared"), fast.pop("orm_writes")) == (2, 0)

    # The statuses the sequence must give (read off the steps in _scenario), so that two
    # equally wrong paths do not pass; seven votes are accepted.
    assert [(status, replayed) for status, replayed, _ in orm["responses"]] == [
        (201, None),
        (201, "true"),
        (422, None),
        (409, None),
        (409, None),
        (409, "true"),
        (403, None),
        *[(201, None)] * 4,
        *[(400, None)] * 6,
        (403, None),
        (201, None),
        (201, "true"),
        (400, None),
        (201, None),
    ]
    assert len(orm["votes"]) == len(orm["battles"]) == 7
    assert orm["n_votes"] == [1, 2, 2, 2]
    assert [b[-1] for b in orm["battles"]].count(
        {"sum_assistant_a_tokens": 12, "sum_assistant_b_tokens": 30}
    ) == 1  # the one accepted vote on the coding match carries its style counts
    for key in orm:
        assert fast[key] == orm[key], key
