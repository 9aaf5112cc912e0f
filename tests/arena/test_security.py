"""Security: an admin's endpoint allowance, proxy headers, prompts kept hidden until judged."""

from __future__ import annotations

import ipaddress

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import RequestFactory

from arena import models as m
from arena.api.voters import client_ip
from arena.env import env_networks
from arena.exceptions import ApplicationError
from arena.services.arena_mode import arena_top_up
from arena.services.matches import inline_dispatch, run_inline
from arena.services.tournaments import tournament_create, tournament_run_inline, tournament_start
from arena.services.votes import ip_hash_make
from tests.arena.test_api_common import API, assert_error, servable_match, tournament_body
from tests.arena.test_api_votes import throttle_cache  # noqa: F401  (local memory and Redis)
from tests.factories import (
    CompetitorFactory,
    MatchFactory,
    PromptSetFactory,
    TournamentFactory,
    prompt_set_with_prompts,
)

pytest_plugins = ["tests.arena.test_api_common"]
pytestmark = pytest.mark.django_db

LOCAL = "http://127.0.0.1:9000/v1"
METADATA = "http://169.254.169.254/latest/meta-data"


@pytest.fixture
def local_model(owner):
    """An owner's model on a loopback endpoint that an admin allowed."""
    return CompetitorFactory(
        owner=owner,
        kind=m.Competitor.Kind.OPENAI,
        endpoint_url=LOCAL,
        endpoint_model="llama",
        sim_strength=None,
        allow_internal=True,
    )


def test_an_owners_new_url_is_checked_as_a_new_submission_despite_the_allowance(
    owner_client, local_model
):
    url = f"{API}/models/{local_model.pk}/"
    assert_error(
        owner_client.patch(url, {"endpoint_url": METADATA}, format="json"),
        400,
        field="endpoint_url",
    )
    assert_error(
        owner_client.patch(url, {"endpoint_url": "http://127.0.0.1:9001/v1"}, format="json"),
        400,
        field="endpoint_url",
    )
    local_model.refresh_from_db()
    assert (local_model.endpoint_url, local_model.allow_internal) == (LOCAL, True)


def test_the_allowance_stays_while_the_approved_url_does(owner_client, local_model):
    url = f"{API}/models/{local_model.pk}/"
    r = owner_client.patch(
        url, {"endpoint_url": LOCAL + "/", "params": {"temperature": 0.2}}, format="json"
    )
    assert r.status_code == 200, r.content
    local_model.refresh_from_db()
    assert (local_model.endpoint_url, local_model.allow_internal) == (LOCAL, True)


def test_an_owners_move_to_a_public_url_ends_the_allowance(owner_client, local_model, public_ip):
    r = owner_client.patch(
        f"{API}/models/{local_model.pk}/",
        {"endpoint_url": "https://api.example.com/v1"},
        format="json",
    )
    assert r.status_code == 200, r.content
    local_model.refresh_from_db()
    assert local_model.allow_internal is False
    # ... so moving back to the loopback address needs the admin again
    r = owner_client.patch(
        f"{API}/models/{local_model.pk}/", {"endpoint_url": LOCAL}, format="json"
    )
    assert_error(r, 400, field="endpoint_url")


def test_an_admin_may_move_an_allowed_endpoint(admin_client, local_model):
    r = admin_client.patch(
        f"{API}/models/{local_model.pk}/",
        {"endpoint_url": "http://127.0.0.1:9001/v1"},
        format="json",
    )
    assert r.status_code == 200, r.content
    local_model.refresh_from_db()
    assert (local_model.endpoint_url, local_model.allow_internal) == (
        "http://127.0.0.1:9001/v1",
        True,
    )


# --------------------------------------------------------------------------- proxy headers


def _anon_rate(settings, rate: str) -> None:
    rates = dict(settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"])
    rates["anon"] = rate
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}


def test_a_fresh_x_forwarded_for_per_request_does_not_escape_the_throttle(
    anon,
    settings,
    throttle_cache,  # noqa: F811
):
    _anon_rate(settings, "3/min")
    codes = [
        anon.get(f"{API}/models/", HTTP_X_FORWARDED_FOR=f"203.0.113.{k}").status_code
        for k in range(6)
    ]
    assert codes == [200, 200, 200, 429, 429, 429]


def test_behind_a_trusted_proxy_each_forwarded_client_has_its_own_budget(
    anon,
    settings,
    throttle_cache,  # noqa: F811
):
    settings.LUDUS_TRUSTED_PROXIES = [
        ipaddress.ip_network("127.0.0.0/8")
    ]  # the test client's REMOTE_ADDR
    _anon_rate(settings, "2/min")
    # what a client writes to the left of the proxy's entry does not make it someone else
    codes = [
        anon.get(f"{API}/models/", HTTP_X_FORWARDED_FOR=f"10.9.9.{k}, 198.51.100.7").status_code
        for k in range(3)
    ]
    assert codes == [200, 200, 429]
    assert anon.get(f"{API}/models/", HTTP_X_FORWARDED_FOR="198.51.100.8").status_code == 200


@pytest.mark.parametrize(
    "remote,xff,trusted,expected",
    [
        ("198.51.100.1", "203.0.113.5", [], "198.51.100.1"),  # no proxies configured
        ("198.51.100.1", "203.0.113.5", ["10.0.0.0/8"], "198.51.100.1"),  # the peer is not a proxy
        ("10.0.0.2", "203.0.113.5", ["10.0.0.0/8"], "203.0.113.5"),
        (
            "10.0.0.2",
            "1.1.1.1, 203.0.113.5, 10.0.0.3",
            ["10.0.0.0/8"],
            "203.0.113.5",
        ),  # two proxies; 1.1.1.1 is spoofed
        ("10.0.0.2", "", ["10.0.0.0/8"], "10.0.0.2"),
        ("10.0.0.2", "203.0.113.5, bogus", ["10.0.0.0/8"], "10.0.0.2"),
        ("10.0.0.2", "10.0.0.9", ["10.0.0.0/8"], "10.0.0.9"),  # only proxies: the farthest one
        ("::1", "2001:db8::7", ["::1"], "2001:db8::7"),
    ],
)
def test_client_ip(settings, remote, xff, trusted, expected):
    settings.LUDUS_TRUSTED_PROXIES = [ipaddress.ip_network(n) for n in trusted]
    request = RequestFactory().get("/", REMOTE_ADDR=remote, HTTP_X_FORWARDED_FOR=xff)
    assert client_ip(request) == expected


def test_votes_record_the_client_address_by_the_same_rule(anon, settings):
    settings.LUDUS_TRUSTED_PROXIES = [ipaddress.ip_network("127.0.0.1")]
    servable_match()
    spoofed = {"HTTP_X_FORWARDED_FOR": "192.0.2.1, 198.51.100.9"}
    token = anon.get(f"{API}/battles/next/", **spoofed).json()["token"]
    r = anon.post(f"{API}/votes/", {"token": token, "outcome": "A"}, format="json", **spoofed)
    assert r.status_code == 201, r.content
    assert m.Vote.objects.get().ip_hash == ip_hash_make(ip="198.51.100.9")


def test_trusted_proxies_setting_refuses_what_is_not_an_address(monkeypatch):
    monkeypatch.setenv("LUDUS_TRUSTED_PROXIES", "10.0.0.0/8, ::1")
    assert env_networks("LUDUS_TRUSTED_PROXIES", []) == [
        ipaddress.ip_network("10.0.0.0/8"),
        ipaddress.ip_network("::1"),
    ]
    monkeypatch.setenv("LUDUS_TRUSTED_PROXIES", "10.0.0.0/8,proxy.local")
    with pytest.raises(ImproperlyConfigured, match="LUDUS_TRUSTED_PROXIES.*proxy.local"):
        env_networks("LUDUS_TRUSTED_PROXIES", [])


# --------------------------------------------------------------------------- hidden prompts


def _prompt_set(n: int, *, public: bool = False, name: str | None = None) -> m.PromptSet:
    return prompt_set_with_prompts(
        n, text="{name} question {i}", public=public, **({"name": name} if name else {})
    )


def test_the_open_arena_serves_only_public_prompt_sets(anon):
    CompetitorFactory.create_batch(8)
    public = _prompt_set(2, public=True)
    hidden = _prompt_set(2)
    TournamentFactory(status=m.Tournament.Status.DRAFT).prompt_sets.add(hidden)
    with inline_dispatch():
        created = arena_top_up(pool_size=20, seed=0)
    assert len(created) == 20
    assert set(
        m.Match.objects.filter(pk__in=created).values_list("prompt__prompt_set", flat=True)
    ) == {public.pk}


def test_battles_next_never_serves_an_unjudged_prompt_of_a_hidden_set(anon):
    hidden = servable_match()
    m.PromptSet.objects.filter(pk=hidden.prompt.prompt_set_id).update(
        public=False
    )  # e.g. a tournament's set
    shown = servable_match()
    served = {anon.get(f"{API}/battles/next/").json().get("prompt") for _ in range(3)}
    assert served == {shown.prompt.text, None}
    assert hidden.prompt.text not in served


@pytest.mark.parametrize("status", ["cancelled", "failed", "forfeit", "pending", "judging"])
def test_a_tournament_match_shows_its_prompt_only_once_judged(anon, status):
    tournament = TournamentFactory(status=m.Tournament.Status.CANCELLED)
    hidden = MatchFactory(tournament=tournament, status=status)
    judged = MatchFactory(tournament=tournament, status=m.Match.Status.DONE, outcome="model_a")
    for match in (hidden, judged):
        for side in "ab":
            m.Generation.objects.create(
                match=match, side=side, competitor=match.competitor_a, text="an answer"
            )
    rows = {
        r["id"]: r
        for r in anon.get(f"{API}/tournaments/{tournament.pk}/matches/?details=true").json()[
            "results"
        ]
    }
    assert rows[hidden.pk]["prompt"] is None and "generations" not in rows[hidden.pk]
    assert (
        rows[judged.pk]["prompt"] == judged.prompt.text and len(rows[judged.pk]["generations"]) == 2
    )


def _field(n: int) -> list[m.Competitor]:
    return [CompetitorFactory(sim_strength=1300 - 40 * i, sim_seed=i) for i in range(n)]


def test_a_tournament_never_draws_a_published_prompt_again():
    other = _prompt_set(3)
    earlier = tournament_create(
        name="earlier", format="round_robin", competitors=_field(3), prompt_sets=[other], seed=1
    )
    tournament_run_inline(tournament=earlier)
    published = set(
        m.Match.objects.filter(tournament=earlier, status="done").values_list("prompt", flat=True)
    )
    assert published
    m.Prompt.objects.filter(pk__in=published).update(
        prompt_set=_prompt_set(8)
    )  # now in the next one's set too
    prompt_set = m.Prompt.objects.get(pk=next(iter(published))).prompt_set
    t = tournament_create(
        name="swiss",
        format="swiss",
        competitors=_field(8),
        config={"rounds": 3},
        prompt_sets=[prompt_set],
        seed=4,
    )
    tournament_run_inline(tournament=t)
    t.refresh_from_db()
    assert t.status == m.Tournament.Status.COMPLETED and "note" not in t.results
    rounds_of = {}
    for prompt_id, number in m.Match.objects.filter(tournament=t).values_list(
        "prompt", "round__number"
    ):
        rounds_of.setdefault(prompt_id, set()).add(number)
    assert all(len(r) == 1 for r in rounds_of.values()), rounds_of  # no prompt in two rounds
    assert not set(rounds_of) & published
    assert m.Match.objects.filter(tournament=t).count() == 12


def test_too_few_unpublished_prompts_are_refused_at_creation(admin_client):
    comps = _field(4)
    prompt_set = _prompt_set(3)
    body = tournament_body(comps, prompt_set, name="cup", seed=7)
    m.Prompt.objects.filter(pk=prompt_set.prompts.first().pk).update(
        prompt_set=_prompt_set(0, public=True)
    )
    error = assert_error(
        admin_client.post(f"{API}/tournaments/", body, format="json"), 400, field="prompt_sets"
    )
    assert "2 unpublished prompt(s) for 3 round(s)" in error["fields"]["prompt_sets"][0]
    assert not m.Tournament.objects.exists()
    body["config"] = {"reuse_published_prompts": "yes"}
    assert_error(
        admin_client.post(f"{API}/tournaments/", body, format="json"),
        400,
        field="config.reuse_published_prompts",
    )
    body["config"] = {"reuse_published_prompts": True}
    assert admin_client.post(f"{API}/tournaments/", body, format="json").status_code == 201


def test_prompts_published_since_creation_are_refused_at_start(admin_client):
    prompt_set = _prompt_set(3)
    t = tournament_create(
        name="later", format="round_robin", competitors=_field(4), prompt_sets=[prompt_set], seed=2
    )
    MatchFactory(
        prompt=prompt_set.prompts.first(), status=m.Match.Status.DONE, outcome="tie"
    )  # judged elsewhere
    assert_error(admin_client.post(f"{API}/tournaments/{t.pk}/start/"), 400, field="prompt_sets")
    t.refresh_from_db()
    assert (
        t.status == m.Tournament.Status.DRAFT and not m.Match.objects.filter(tournament=t).exists()
    )


def test_a_tournament_that_runs_out_mid_way_stops_with_a_note_instead_of_reusing():
    prompt_set = _prompt_set(3)
    t = tournament_create(
        name="dry", format="round_robin", competitors=_field(4), prompt_sets=[prompt_set], seed=3
    )
    with inline_dispatch() as queue:
        tournament_start(tournament=t)
        m.PromptSet.objects.filter(pk=prompt_set.pk).update(
            public=True
        )  # an admin publishes the set mid-way
        run_inline(queue)
    t.refresh_from_db()
    assert t.status == m.Tournament.Status.COMPLETED
    assert "no unpublished prompt left" in t.results["note"]
    assert set(m.Match.objects.filter(tournament=t).values_list("round__number", flat=True)) == {1}


def test_service_refusal_names_the_field():
    with pytest.raises(ApplicationError) as info:
        tournament_create(
            name="x",
            format="swiss",
            competitors=_field(4),
            config={"rounds": 3},
            prompt_sets=[_prompt_set(2)],
        )
    assert "prompt_sets" in info.value.field_errors


def test_the_vote_page_offers_only_the_categories_of_public_sets(client):
    PromptSetFactory(public=True, category="coding")
    PromptSetFactory(category="secret-benchmark")
    body = client.get("/vote").content.decode()
    assert "coding" in body and "secret-benchmark" not in body
