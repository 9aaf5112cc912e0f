"""Endpoint parameters: what a model owner may set at submission reaches the endpoint request."""

from __future__ import annotations

import pytest

from arena import models as m
from arena.services.competitors import competitor_activate
from arena.services.matches import competitor_generate
from tests.arena.test_api_common import API
from tests.fake_openai import FakeOpenAI

pytestmark = pytest.mark.django_db
pytest_plugins = ["tests.arena.test_api_common"]


@pytest.fixture
def fake_server():
    server = FakeOpenAI(models={"fake-model": (1100.0, "concise", 1)}).start()
    yield server
    server.stop()


@pytest.mark.parametrize(
    "params",
    [
        {"top_p": 0.9},
        {"presence_penalty": 0.5},
        {"frequency_penalty": -1.25},
        {"seed": 42},
        {
            "temperature": 0.2,
            "max_tokens": 64,
            "top_p": 0.5,
            "presence_penalty": 2,
            "frequency_penalty": -2,
            "seed": 2**31 - 1,
        },
    ],
)
def test_submitted_params_reach_the_request_body(params, fake_server, owner_client, settings):
    settings.LUDUS_ALLOW_INTERNAL_ENDPOINTS = True
    settings.CELERY_EAGER = True  # the in-process endpoint limiter
    r = owner_client.post(
        f"{API}/models/",
        {
            "name": "with-params",
            "kind": "openai",
            "endpoint_url": fake_server.base_url,
            "endpoint_model": "fake-model",
            "params": params,
        },
        format="json",
    )
    assert r.status_code == 201, r.content
    competitor = competitor_activate(competitor=m.Competitor.objects.get(name="with-params"))
    completion = competitor_generate(competitor, "Say hello.")
    assert completion.text
    sent = fake_server.bodies[-1]
    for key, value in params.items():
        assert sent[key] == value and type(sent[key]) is (
            int if key in ("seed", "max_tokens") else float
        ), (key, sent)


@pytest.mark.parametrize(
    "params,fragment",
    [
        ({"top_p": 1.01}, "top_p must be between 0 and 1"),
        ({"seed": -1}, "seed must be between 0 and 2147483647"),
        ({"seed": 1.5}, "seed must be an integer"),
        ({"presence_penalty": "high"}, "presence_penalty must be a number"),
        ({"logit_bias": {}}, "unknown parameter 'logit_bias'"),
    ],
)
def test_out_of_spec_params_are_refused_at_submission(params, fragment, owner_client, settings):
    settings.LUDUS_ALLOW_INTERNAL_ENDPOINTS = True
    r = owner_client.post(
        f"{API}/models/",
        {
            "name": "bad-params",
            "kind": "openai",
            "endpoint_url": "http://127.0.0.1:9/v1",
            "endpoint_model": "x",
            "params": params,
        },
        format="json",
    )
    assert r.status_code == 400
    assert any(fragment in msg for msg in r.json()["error"]["fields"]["params"]), r.json()


def test_every_owner_param_is_sent_or_configures_the_client():
    from clients import OWNER_PARAMS, SAMPLING_PARAMS

    assert set(OWNER_PARAMS) - set(SAMPLING_PARAMS) == {"timeout"}
