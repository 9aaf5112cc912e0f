"""Security: an admin's endpoint allowance, proxy headers, prompts kept hidden until judged."""

from __future__ import annotations

import pytest

from arena import models as m
from tests.arena.test_api_common import API, assert_error
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
