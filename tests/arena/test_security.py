"""Security: an admin's endpoint allowance, proxy headers, prompts kept hidden until judged."""

from __future__ import annotations

import ipaddress

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import RequestFactory

from arena import models as m
from arena.api.voters import client_ip
from arena.env import env_networks
from arena.services.votes import ip_hash_make
from tests.arena.test_api_common import API, assert_error, servable_match
from tests.arena.test_api_votes import throttle_cache  # noqa: F401  (local memory and Redis)
from tests.factories import CompetitorFactory

pytest_plugins = ["tests.arena.test_api_common"]
pytestmark = pytest.mark.django_db

LOCAL = "http://127.0.0.1:9000/v1"
METADATA = "http://169.254.169.254/latest/meta-data"


@pytest.fixture
def local_model(owner):
    """An owner's model on a loopback endpoint that an admin allowed."""
    return CompetitorFactory(owner=owner, kind=m.Competitor.Kind.OPENAI, endpoint_url=LOCAL, endpoint_model="llama",
                             sim_strength=None, allow_internal=True)


def test_an_owners_new_url_is_checked_as_a_new_submission_despite_the_allowance(owner_client, local_model):
    url = f"{API}/models/{local_model.pk}/"
    assert_error(owner_client.patch(url, {"endpoint_url": METADATA}, format="json"), 400, field="endpoint_url")
    assert_error(owner_client.patch(url, {"endpoint_url": "http://127.0.0.1:9001/v1"}, format="json"), 400,
                 field="endpoint_url")
    local_model.refresh_from_db()
    assert (local_model.endpoint_url, local_model.allow_internal) == (LOCAL, True)


def test_the_allowance_stays_while_the_approved_url_does(owner_client, local_model):
    url = f"{API}/models/{local_model.pk}/"
    r = owner_client.patch(url, {"endpoint_url": LOCAL + "/", "params": {"temperature": 0.2}}, format="json")
    assert r.status_code == 200, r.content
    local_model.refresh_from_db()
    assert (local_model.endpoint_url, local_model.allow_internal) == (LOCAL, True)


def test_an_owners_move_to_a_public_url_ends_the_allowance(owner_client, local_model, public_ip):
    r = owner_client.patch(f"{API}/models/{local_model.pk}/", {"endpoint_url": "https://api.example.com/v1"},
                           format="json")
    assert r.status_code == 200, r.content
    local_model.refresh_from_db()
    assert local_model.allow_internal is False
    # ... so moving back to the loopback address needs the admin again
    r = owner_client.patch(f"{API}/models/{local_model.pk}/", {"endpoint_url": LOCAL}, format="json")
    assert_error(r, 400, field="endpoint_url")


def test_an_admin_may_move_an_allowed_endpoint(admin_client, local_model):
    r = admin_client.patch(f"{API}/models/{local_model.pk}/", {"endpoint_url": "http://127.0.0.1:9001/v1"},
                           format="json")
    assert r.status_code == 200, r.content
    local_model.refresh_from_db()
    assert (local_model.endpoint_url, local_model.allow_internal) == ("http://127.0.0.1:9001/v1", True)


# --------------------------------------------------------------------------- proxy headers


def _anon_rate(settings, rate: str) -> None:
    rates = dict(settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"])
    rates["anon"] = rate
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}


def test_a_fresh_x_forwarded_for_per_request_does_not_escape_the_throttle(anon, settings, throttle_cache):  # noqa: F811
    _anon_rate(settings, "3/min")
    codes = [anon.get(f"{API}/models/", HTTP_X_FORWARDED_FOR=f"203.0.113.{k}").status_code for k in range(6)]
    assert codes == [200, 200, 200, 429, 429, 429]


def test_behind_a_trusted_proxy_each_forwarded_client_has_its_own_budget(anon, settings, throttle_cache):  # noqa: F811
    settings.LUDUS_TRUSTED_PROXIES = [ipaddress.ip_network("127.0.0.0/8")]  # the test client's REMOTE_ADDR
    _anon_rate(settings, "2/min")
    # what a client writes to the left of the proxy's entry does not make it someone else
    codes = [anon.get(f"{API}/models/", HTTP_X_FORWARDED_FOR=f"10.9.9.{k}, 198.51.100.7").status_code
             for k in range(3)]
    assert codes == [200, 200, 429]
    assert anon.get(f"{API}/models/", HTTP_X_FORWARDED_FOR="198.51.100.8").status_code == 200


@pytest.mark.parametrize("remote,xff,trusted,expected", [
    ("198.51.100.1", "203.0.113.5", [], "198.51.100.1"),  # no proxies configured
    ("198.51.100.1", "203.0.113.5", ["10.0.0.0/8"], "198.51.100.1"),  # the peer is not a proxy
    ("10.0.0.2", "203.0.113.5", ["10.0.0.0/8"], "203.0.113.5"),
    ("10.0.0.2", "1.1.1.1, 203.0.113.5, 10.0.0.3", ["10.0.0.0/8"], "203.0.113.5"),  # two proxies; 1.1.1.1 is spoofed
    ("10.0.0.2", "", ["10.0.0.0/8"], "10.0.0.2"),
    ("10.0.0.2", "203.0.113.5, bogus", ["10.0.0.0/8"], "10.0.0.2"),
    ("10.0.0.2", "10.0.0.9", ["10.0.0.0/8"], "10.0.0.9"),  # only proxies: the farthest one
    ("::1", "2001:db8::7", ["::1"], "2001:db8::7"),
])
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
    assert env_networks("LUDUS_TRUSTED_PROXIES", []) == [ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("::1")]
    monkeypatch.setenv("LUDUS_TRUSTED_PROXIES", "10.0.0.0/8,proxy.local")
    with pytest.raises(ImproperlyConfigured, match="LUDUS_TRUSTED_PROXIES.*proxy.local"):
        env_networks("LUDUS_TRUSTED_PROXIES", [])
