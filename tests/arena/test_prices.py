"""Prices set by admins: the staff API and admin, bad input, and the cost of new answers."""

from __future__ import annotations

import datetime
from decimal import Decimal
from unittest import mock

import pytest

from arena import models as m
from arena.exceptions import ApplicationError
from arena.selectors.usage import competitor_rating_cost, competitor_usage
from arena.services import matches as match_services
from arena.services.prices import price_set
from arena.services.tournaments import tournament_create, tournament_run_inline
from clients import Completion
from tests.arena.test_api_common import API, assert_error
from tests.factories import CompetitorFactory, MatchFactory, UserFactory, prompt_set_with_prompts

pytest_plugins = ["tests.arena.test_api_common"]
pytestmark = pytest.mark.django_db

GOOD = {
    "input_per_mtok": "2.50",
    "output_per_mtok": "10",
    "public_input_per_mtok": "3",
    "public_output_per_mtok": "12.5",
    "public_source_url": "https://provider.example/pricing",
    "public_checked_on": "2026-11-30",
    "note": "negotiated",
}


# --------------------------------------------------------------------------- the API


def test_staff_set_a_price_and_anyone_reads_it(admin_client, anon):
    model = CompetitorFactory()
    url = f"{API}/models/{model.pk}/price/"
    empty = anon.get(url)
    assert empty.status_code == 200 and empty.json() == {
        "competitor_id": model.pk,
        "current": None,
        "history": [],
    }
    r = admin_client.post(url, GOOD, format="json")
    assert r.status_code == 201, r.json()
    current = r.json()["current"]
    assert current["currency"] == "USD"  # the deployment's currency, stated on the price
    assert (current["input_per_mtok"], current["output_per_mtok"]) == ("2.5", "10")
    assert (current["public_input_per_mtok"], current["public_output_per_mtok"]) == ("3", "12.5")
    assert current["public_source_url"] == GOOD["public_source_url"]
    assert current["public_checked_on"] == "2026-11-30"
    assert anon.get(url).json() == r.json()
    assert m.Price.objects.get().set_by == "admin"

    # the same price again adds nothing (a retried request); a new one is appended
    assert admin_client.post(url, GOOD, format="json").status_code == 200
    assert m.Price.objects.count() == 1
    r = admin_client.post(url, {"input_per_mtok": 1, "output_per_mtok": 2}, format="json")
    assert r.status_code == 201
    body = r.json()
    assert (
        body["current"]["input_per_mtok"] == "1"
        and body["current"]["public_input_per_mtok"] is None
    )
    assert [p["input_per_mtok"] for p in body["history"]] == ["1", "2.5"]


def test_only_staff_set_prices(owner, owner_client, other_client, anon):
    model = CompetitorFactory(owner=owner)
    url = f"{API}/models/{model.pk}/price/"
    assert owner_client.post(url, GOOD, format="json").status_code == 403  # not even the owner
    assert other_client.post(url, GOOD, format="json").status_code == 403
    assert anon.post(url, GOOD, format="json").status_code in (401, 403)
    assert not m.Price.objects.exists()


def test_a_private_models_price_is_hidden(anon, admin_client):
    model = CompetitorFactory(visibility=m.Competitor.Visibility.PRIVATE)
    assert anon.get(f"{API}/models/{model.pk}/price/").status_code == 404
    assert admin_client.get(f"{API}/models/{model.pk}/price/").status_code == 200


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"input_per_mtok": "-0.5"}, "input_per_mtok"),
        ({"output_per_mtok": -1}, "output_per_mtok"),
        ({"input_per_mtok": "abc"}, "input_per_mtok"),
        ({"input_per_mtok": True}, "input_per_mtok"),
        ({"input_per_mtok": [1]}, "input_per_mtok"),
        ({"input_per_mtok": {"usd": 1}}, "input_per_mtok"),
        ({"input_per_mtok": "NaN"}, "input_per_mtok"),
        ({"output_per_mtok": "Infinity"}, "output_per_mtok"),
        ({"input_per_mtok": "0.1234567"}, "input_per_mtok"),  # finer than a micro-unit
        ({"input_per_mtok": "1e12"}, "input_per_mtok"),
        ({"input_per_mtok": None}, "input_per_mtok"),
        ({"public_input_per_mtok": "-3"}, "public_input_per_mtok"),
        ({"public_output_per_mtok": "x"}, "public_output_per_mtok"),
        ({"currency": "EUR"}, "currency"),
        ({"currency": "dollars"}, "currency"),
        ({"public_source_url": "javascript:alert(1)"}, "public_source_url"),
        ({"public_checked_on": "yesterday"}, "public_checked_on"),
        ({"note": "n" * 301}, "note"),
    ],
)
def test_bad_prices_are_refused_with_a_field_message(admin_client, change, field):
    model = CompetitorFactory()
    r = admin_client.post(f"{API}/models/{model.pk}/price/", {**GOOD, **change}, format="json")
    assert_error(r, 400, field=field)
    assert not m.Price.objects.exists()


def test_a_missing_amount_is_named(admin_client):
    model = CompetitorFactory()
    r = admin_client.post(f"{API}/models/{model.pk}/price/", {"input_per_mtok": 1}, format="json")
    assert_error(r, 400, field="output_per_mtok")


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"input_per_mtok": -1, "output_per_mtok": 1}, "input_per_mtok"),
        ({"input_per_mtok": 1, "output_per_mtok": "lots"}, "output_per_mtok"),
        ({"input_per_mtok": 1, "output_per_mtok": float("nan")}, "output_per_mtok"),
        ({"input_per_mtok": False, "output_per_mtok": 1}, "input_per_mtok"),
        ({"input_per_mtok": None, "output_per_mtok": 1}, "input_per_mtok"),
        (
            {"input_per_mtok": 1, "output_per_mtok": 1, "public_input_per_mtok": -2},
            "public_input_per_mtok",
        ),
        ({"input_per_mtok": 1, "output_per_mtok": 1, "currency": "GBP"}, "currency"),
        (
            {"input_per_mtok": 1, "output_per_mtok": 1, "public_source_url": "javascript:x()"},
            "public_source_url",
        ),
        ({"input_per_mtok": 1, "output_per_mtok": 1, "note": "n" * 301}, "note"),
    ],
)
def test_the_service_checks_what_the_admin_site_passes_too(kwargs, field):
    with pytest.raises(ApplicationError) as caught:
        price_set(competitor=CompetitorFactory(), **kwargs)
    assert field in caught.value.field_errors
    assert not m.Price.objects.exists()


def test_admin_site_adds_prices_and_never_edits_them(client):
    staff = UserFactory(username="boss", is_staff=True, is_superuser=True)
    client.force_login(staff)
    model = CompetitorFactory()
    form = {
        "competitor": model.pk,
        "input_per_mtok": "0.75",
        "output_per_mtok": "3",
        "public_input_per_mtok": "",
        "public_output_per_mtok": "",
        "public_source_url": "",
        "public_checked_on": "",
        "note": "",
    }
    bad = client.post("/admin/arena/price/add/", {**form, "input_per_mtok": "-1"})
    assert bad.status_code == 200 and "input_per_mtok" in bad.context["adminform"].form.errors
    assert not m.Price.objects.exists()
    r = client.post("/admin/arena/price/add/", form)
    assert r.status_code == 302, r.content.decode()[:2000]
    price = m.Price.objects.get()
    assert (price.input_per_mtok, price.output_per_mtok) == (Decimal("0.75"), Decimal("3"))
    assert (price.currency, price.set_by) == ("USD", "boss")
    # viewable, not changeable or deletable (append-only)
    change = client.post(f"/admin/arena/price/{price.pk}/change/", {**form, "input_per_mtok": 9})
    assert change.status_code == 403
    assert client.post(f"/admin/arena/price/{price.pk}/delete/", {"post": "yes"}).status_code == 403
    price.refresh_from_db()
    assert price.input_per_mtok == Decimal("0.75")
    with pytest.raises(TypeError):
        price.save()


# --------------------------------------------------------------------------- cost of new answers


def _completion(prompt_tokens: int, completion_tokens: int, cost: str) -> Completion:
    return Completion(
        text="an answer",
        latency_ms=5,
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        cost=Decimal(cost),
    )


def _play(a, b, prompt_set, name):
    """One judged match between ``a`` and ``b`` through the real services."""
    t = tournament_create(
        name=name, format="round_robin", competitors=[a, b], prompt_sets=[prompt_set], seed=1
    )
    tournament_run_inline(tournament=t)
    return {g.competitor_id: g for g in m.Generation.objects.filter(match__tournament=t)}


def test_new_answers_are_costed_from_the_admin_price(public_ip):
    """Worked by hand from the token counts: an admin price wins over the declared one, which
    is kept; a model with no price has an unknown cost (basis none)."""
    declared = {"price_prompt_per_1k": 0.5, "price_completion_per_1k": 1.5}
    endpoint = CompetitorFactory(
        name="endpoint",
        kind=m.Competitor.Kind.OPENAI,
        endpoint_url="https://model.example/v1",
        endpoint_model="m",
        params=declared,
        sim_strength=None,
    )
    simulated = CompetitorFactory(name="simulated")
    unpriced = CompetitorFactory(name="unpriced")
    # What the endpoint client would have costed from the declared price (per 1,000 tokens):
    # 1200 * 0.5 / 1000 + 345 * 1.5 / 1000 = 0.6 + 0.5175.
    tokens = {
        "endpoint": (1200, 345, "1.1175"),
        "simulated": (1200, 345, "0"),
        "unpriced": (80, 20, "0"),
    }

    def generate(competitor, prompt):
        return _completion(*tokens[competitor.name])

    price_set(competitor=simulated, input_per_mtok="2.50", output_per_mtok="10")
    prompts = prompt_set_with_prompts(2, name="priced")
    with mock.patch.object(match_services, "competitor_generate", generate):
        first = _play(endpoint, simulated, prompts, "first")
        # (2.5 * 1200 + 10 * 345) / 10^6 = (3000 + 3450) / 10^6
        assert first[simulated.pk].cost == Decimal("0.006450")
        assert first[simulated.pk].cost_basis == m.CostBasis.ADMIN
        assert first[simulated.pk].price == m.Price.objects.get(competitor=simulated)
        assert first[endpoint.pk].cost == Decimal("1.117500")
        assert (first[endpoint.pk].cost_basis, first[endpoint.pk].price) == ("declared", None)

        later, _ = price_set(competitor=endpoint, input_per_mtok="0.20", output_per_mtok="0.80")
        second = _play(endpoint, unpriced, prompts, "second")
    # (0.2 * 1200 + 0.8 * 345) / 10^6 = (240 + 276) / 10^6
    assert second[endpoint.pk].cost == Decimal("0.000516")
    assert (second[endpoint.pk].cost_basis, second[endpoint.pk].price) == ("admin", later)
    assert (second[unpriced.pk].cost, second[unpriced.pk].cost_basis) == (0, "none")
    endpoint.refresh_from_db()
    assert endpoint.params == declared  # the declaration is kept, just not used
    # the earlier answer keeps the cost it was given
    first[endpoint.pk].refresh_from_db()
    assert first[endpoint.pk].cost == Decimal("1.117500")

    usage = competitor_usage(competitor=endpoint)
    assert usage["cost_basis"] == {"admin": 1, "declared": 1, "none": 0}
    assert usage["price"]["input_per_mtok"] == "0.2"
    assert usage["cost_per_answer"]["value"] == pytest.approx((1.1175 + 0.000516) / 2)
    none = competitor_usage(competitor=unpriced)
    assert (none["answers"], none["priced_answers"]) == (1, 0)
    assert none["cost_per_answer"]["value"] is None  # unknown, not free
    assert none["cost_basis"] == {"admin": 0, "declared": 0, "none": 1}


def test_usage_and_rating_cost_say_which_price_and_leave_unpriced_answers_out():
    model = CompetitorFactory(name="mixed")
    price, _ = price_set(competitor=model, input_per_mtok="1", output_per_mtok="2")
    answers = [
        ("admin", "0.030"),
        ("admin", "0.050"),
        ("declared", "0.040"),
        ("none", "0"),
        ("none", "0"),
    ]
    for basis, cost in answers:
        m.Generation.objects.create(
            match=MatchFactory(competitor_a=model, status=m.Match.Status.DONE),
            side="a",
            competitor=model,
            text="x",
            cost=Decimal(cost),
            cost_basis=basis,
            price=price if basis == "admin" else None,
        )
    usage = competitor_usage(competitor=model)
    assert (usage["answers"], usage["priced_answers"]) == (5, 3)
    assert usage["cost_basis"] == {"admin": 2, "declared": 1, "none": 2}
    assert usage["currency"] == "USD"
    assert usage["price"]["id"] == price.pk
    # 0.03, 0.05, 0.04: mean 0.04, s = 0.01, t(0.975, 2) = 4.303 (a printed table)
    half = 4.303 * 0.01 / 3**0.5
    cost = usage["cost_per_answer"]
    assert cost["value"] == pytest.approx(0.04)
    assert (cost["lower"], cost["upper"]) == pytest.approx((0.04 - half, 0.04 + half), abs=1e-5)
    row = next(r for r in competitor_rating_cost()["rows"] if r["name"] == "mixed")
    assert (row["answers"], row["priced_answers"]) == (5, 3)
    assert row["cost_basis"] == usage["cost_basis"] and row["price"] == usage["price"]
    assert row["cost_per_battle"] == pytest.approx(cost)


def test_a_generation_cannot_claim_an_admin_basis_without_its_price():
    from django.db import IntegrityError, transaction

    match = MatchFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        m.Generation.objects.create(
            match=match, side="a", competitor=match.competitor_a, text="x", cost_basis="admin"
        )


def test_price_dates_are_iso_strings_on_page_and_api(admin_client, client):
    model = CompetitorFactory()
    price_set(
        competitor=model,
        input_per_mtok=1,
        output_per_mtok=1,
        public_checked_on=datetime.date(2026, 11, 30),
        public_source_url="https://provider.example/<pricing>",
    )
    api = admin_client.get(f"{API}/models/{model.pk}/usage/").json()
    page = client.get(f"/models/{model.pk}/")
    assert page.context["usage"] == api
    html = page.content.decode()
    assert "read 2026-11-30" in html
    assert "https://provider.example/&lt;pricing&gt;" in html


def test_the_demo_prices_every_model_once():
    from arena.services.demo import DEMO_COMPETITORS, DEMO_PRICES, demo_load

    demo_load(n_battles=50)
    demo_load(n_battles=50)
    names = {name for name, *_ in DEMO_COMPETITORS}
    assert set(DEMO_PRICES) == names
    prices = m.Price.objects.select_related("competitor")
    assert sorted(p.competitor.name for p in prices) == sorted(names)  # one each, not two
    atlas = prices.get(competitor__name="atlas-70b")
    assert (atlas.input_per_mtok, atlas.output_per_mtok) == (Decimal("3"), Decimal("15"))
