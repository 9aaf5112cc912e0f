"""models/: submission validation, visibility of secrets, permissions, status, statistics."""

from __future__ import annotations

import pytest

from arena import models as m
from arena.exceptions import ApplicationError
from arena.services.competitors import endpoint_url_validate
from clients import address_problem as _address_problem
from tests.arena.test_api_common import API, assert_error, counts
from tests.factories import BattleFactory, CompetitorFactory

pytest_plugins = ["tests.arena.test_api_common"]
pytestmark = pytest.mark.django_db

GOOD = {
    "name": "my-model",
    "kind": "openai",
    "endpoint_url": "https://api.example.com/v1",
    "endpoint_model": "gpt-x",
    "api_key": "sk-secret",
    "params": {"temperature": 0.7, "max_tokens": 512},
    "provider": "Acme",
    "licence": "MIT",
}


def test_submit_and_see_own_private_fields(owner_client, other_client, anon, public_ip):
    r = owner_client.post(f"{API}/models/", GOOD, format="json")
    assert r.status_code == 201, r.content
    body = r.json()
    assert body["status"] == "pending" and body["owner"] == "owner"
    assert body["private"]["endpoint_url"] == "https://api.example.com/v1"
    assert body["private"]["has_api_key"] is True
    assert body["admin"] is None
    assert "sk-secret" not in r.content.decode()
    c = m.Competitor.objects.get(name="my-model")
    assert c.api_key_encrypted and "sk-secret" not in c.api_key_encrypted
    from arena.services.competitors import competitor_api_key_get

    assert competitor_api_key_get(competitor=c) == "sk-secret"
    # The worker that calls the endpoint decrypts the same stored key.
    from arena.services.matches import competitor_endpoint

    assert competitor_endpoint(c).api_key == "sk-secret"
    for client in (other_client, anon):
        seen = client.get(f"{API}/models/{c.pk}/").json()
        assert seen["private"] is None and seen["admin"] is None


def test_admin_sees_hidden_strength_others_do_not(admin_client, owner_client, anon):
    c = CompetitorFactory(sim_strength=1234.5)
    assert admin_client.get(f"{API}/models/{c.pk}/").json()["admin"]["sim_strength"] == 1234.5
    for client in (owner_client, anon):
        text = client.get(f"{API}/models/{c.pk}/").content.decode()
        assert "1234.5" not in text
        assert "1234.5" not in client.get(f"{API}/models/").content.decode()


@pytest.mark.parametrize(
    "url,fragment",
    [
        ("http://api.example.com/v1", "http"),
        ("https://127.0.0.1/v1", "loopback"),
        ("https://localhost:8000/v1", "loopback"),
        ("https://10.0.0.5/v1", "private"),
        ("https://192.168.1.1/v1", "private"),
        ("https://169.254.169.254/latest", "link-local"),
        ("https://[::1]/v1", "loopback"),
        ("https://[::ffff:127.0.0.1]/v1", "loopback"),
        ("https://0.0.0.0/v1", "unspecified"),
        ("ftp://example.com/", "https"),
        ("https://user:pw@example.com/", "Credentials"),
        ("https:///v1", "host"),
    ],
)
def test_internal_or_bad_endpoints_are_refused(url, fragment, owner_client):
    before = counts()
    r = owner_client.post(f"{API}/models/", {**GOOD, "endpoint_url": url}, format="json")
    err = assert_error(r, 400, "invalid", "endpoint_url")
    assert fragment.lower() in " ".join(err["fields"]["endpoint_url"]).lower()
    assert counts() == before


def test_every_resolved_address_is_checked(monkeypatch):
    from clients import urlguard

    monkeypatch.setattr(urlguard, "resolve_host", lambda host: ["93.184.215.14", "10.1.2.3"])
    with pytest.raises(ApplicationError) as exc:
        endpoint_url_validate(url="https://mixed.example.com/v1")
    assert "private" in exc.value.field_errors["endpoint_url"][0]


def test_address_classification_matches_ipaddress_reference():
    # independent expectations from RFC 1918 / 3927 / 4291
    assert _address_problem("8.8.8.8") is None
    assert "private" in _address_problem("172.16.0.1")
    assert "link-local" in _address_problem("fe80::1")
    assert "private" in _address_problem("fd00:ec2::254")
    assert "multicast" in _address_problem("224.0.0.1")


def test_admin_may_allow_internal_endpoint(admin_client, owner_client, settings):
    before = counts()
    r = owner_client.post(
        f"{API}/models/",
        {**GOOD, "endpoint_url": "http://127.0.0.1:9000/v1", "allow_internal": True},
        format="json",
    )
    assert_error(r, 403, "permission_denied", "allow_internal")
    assert counts() == before
    r = admin_client.post(
        f"{API}/models/",
        {**GOOD, "endpoint_url": "http://127.0.0.1:9000/v1", "allow_internal": True},
        format="json",
    )
    assert r.status_code == 201, r.content
    settings.LUDUS_ALLOW_INTERNAL_ENDPOINTS = True
    r = owner_client.post(
        f"{API}/models/",
        {**GOOD, "name": "local", "endpoint_url": "http://localhost:9000/v1"},
        format="json",
    )
    assert r.status_code == 201, r.content


@pytest.mark.parametrize(
    "payload,field",
    [
        ({"name": ""}, "name"),
        ({"name": ["x"]}, "name"),
        ({"params": {"temperature": True}}, "params"),
        ({"params": {"temperature": 3}}, "params"),
        ({"params": {"max_tokens": 0}}, "params"),
        ({"params": {"max_tokens": "many"}}, "params"),
        ({"params": {"bogus": 1}}, "params"),
        ({"params": "hot"}, "params"),
        ({"max_concurrency": 0}, "max_concurrency"),
        ({"kind": "robot"}, "kind"),
        ({"endpoint_model": ""}, "endpoint_model"),
        ({"sim_strength": 1500}, "sim_strength"),
    ],
)
def test_bad_submissions(payload, field, owner_client, public_ip):
    before = counts()
    r = owner_client.post(f"{API}/models/", {**GOOD, **payload}, format="json")
    assert 400 <= r.status_code < 500
    body = r.json()["error"]
    if field:
        assert field in body["fields"], body
    assert counts() == before


def test_duplicate_name_is_refused(owner_client, public_ip):
    CompetitorFactory(name="My-Model")
    before = counts()
    assert_error(owner_client.post(f"{API}/models/", GOOD, format="json"), 400, "invalid", "name")
    assert counts() == before


def test_anonymous_cannot_submit(anon):
    before = counts()
    r = anon.post(f"{API}/models/", GOOD, format="json")
    assert r.status_code in (401, 403)
    assert counts() == before


def test_simulated_submission_by_owner(owner_client):
    r = owner_client.post(f"{API}/models/", {"name": "sim", "kind": "simulated"}, format="json")
    assert r.status_code == 201, r.content
    assert m.Competitor.objects.get(name="sim").sim_strength == 1000.0


def test_update_permissions(owner, owner_client, other_client, admin_client, anon):
    c = CompetitorFactory(owner=owner, status="pending")
    url = f"{API}/models/{c.pk}/"
    assert owner_client.patch(url, {"description": "new card"}, format="json").status_code == 200
    assert_error(other_client.patch(url, {"description": "hijack"}, format="json"), 403)
    assert anon.patch(url, {"description": "hijack"}, format="json").status_code in (401, 403)
    assert admin_client.patch(url, {"version": "2"}, format="json").status_code == 200
    c.refresh_from_db()
    assert (c.description, c.version) == ("new card", "2")
    assert_error(owner_client.put(url, {"description": "x"}, format="json"), 405)


def test_status_transitions(owner, owner_client, other_client, admin_client):
    c = CompetitorFactory(owner=owner, status="pending")
    assert_error(owner_client.post(f"{API}/models/{c.pk}/activate/"), 403)
    assert admin_client.post(f"{API}/models/{c.pk}/activate/").json()["status"] == "active"
    assert_error(other_client.post(f"{API}/models/{c.pk}/withdraw/"), 403)
    assert owner_client.post(f"{API}/models/{c.pk}/withdraw/").json()["status"] == "withdrawn"
    assert_error(
        owner_client.patch(f"{API}/models/{c.pk}/", {"description": "x"}, format="json"),
        409,
        "conflict",
    )


def test_private_models_are_hidden(owner, owner_client, other_client, admin_client):
    c = CompetitorFactory(owner=owner, visibility="private")
    assert owner_client.get(f"{API}/models/{c.pk}/").status_code == 200
    assert admin_client.get(f"{API}/models/{c.pk}/").status_code == 200
    assert_error(other_client.get(f"{API}/models/{c.pk}/"), 404)
    assert c.name not in other_client.get(f"{API}/models/").content.decode()


def test_list_filters_ordering_search_and_queries(
    owner, owner_client, anon, django_assert_max_num_queries
):
    for i in range(5):
        CompetitorFactory(name=f"zeta-{i}", provider="Z")
    CompetitorFactory(name="alpha", owner=owner, status="pending", provider="A")
    with django_assert_max_num_queries(2):  # count + page (owner joined)
        r = anon.get(f"{API}/models/")
    assert r.json()["count"] == 6
    assert [x["name"] for x in anon.get(f"{API}/models/?ordering=-name").json()["results"]][
        0
    ] == "zeta-4"
    assert anon.get(f"{API}/models/?status=pending").json()["count"] == 1
    assert anon.get(f"{API}/models/?provider=Z&page_size=2").json()["count"] == 5
    assert len(anon.get(f"{API}/models/?provider=Z&page_size=2").json()["results"]) == 2
    assert anon.get(f"{API}/models/?search=alph").json()["count"] == 1
    assert owner_client.get(f"{API}/models/?owner=me").json()["count"] == 1
    assert_error(anon.get(f"{API}/models/?status=bogus"), 400, "invalid", "status")
    assert_error(anon.get(f"{API}/models/?page=99"), 404)


def test_stats(anon):
    a, b, c = CompetitorFactory(), CompetitorFactory(), CompetitorFactory()
    BattleFactory(model_a=a, model_b=b, outcome="model_a")
    BattleFactory(model_a=b, model_b=a, outcome="model_a")
    BattleFactory(model_a=a, model_b=c, outcome="tie")
    batch = m.ImportBatch.objects.create(fmt="pairs")
    m.PairCount.objects.create(batch=batch, model_a=c, model_b=a, wins_a=1, wins_b=3, ties=1)
    m.LeaderboardSnapshot.objects.create(
        method="bt",
        source="combined",
        category="all",
        version=1,
        data_version="x",
        ratings=[
            {
                "model": a.name,
                "competitor_id": a.pk,
                "rating": 1010.0,
                "lower": 990.0,
                "upper": 1030.0,
                "rank": 1,
            }
        ],
    )
    s = anon.get(f"{API}/models/{a.pk}/stats/").json()
    # a: W vs b, L vs b, tie vs c; pairs: 3 wins, 1 loss, 1 tie  -> 4 W, 2 L, 2 T of 8
    assert (s["battles"], s["wins"], s["losses"], s["ties"]) == (8, 4, 2, 2)
    assert s["win_rate"] == pytest.approx(5 / 8)
    assert s["by_source"] == {"human": 3, "judge": 0, "import": 5}
    assert s["rating_history"][0]["rating"] == 1010.0
