"""Staff tournament configuration: validation messages come from the tournament service."""

from __future__ import annotations

import pytest
from django.test import Client

from arena import models as m
from tests.factories import CompetitorFactory, UserFactory, prompt_set_with_prompts

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _locmem_cache(settings):
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "staff"}
    }


@pytest.fixture
def staff_client() -> Client:
    user = UserFactory(username="staff", is_staff=True, is_superuser=True)
    client = Client(HTTP_HOST="localhost")
    client.force_login(user)
    return client


@pytest.fixture
def setup():
    comps = [CompetitorFactory(name=f"c{i}") for i in range(4)]
    return comps, prompt_set_with_prompts(3, name="general-set")  # one for each round


def _post(client, comps, ps, **over):
    data = {
        "name": "Cup",
        "format": "swiss",
        "competitors": [c.id for c in comps],
        "prompt_sets": [ps.id],
        "config": "{}",
        "judge_pipeline": "{}",
        "seed": "",
    }
    data.update(over)
    return client.post("/staff/tournaments/new", data)


def test_staff_only():
    r = Client(HTTP_HOST="localhost").get("/staff/tournaments/new")
    assert r.status_code == 302 and "/admin/login/" in r["Location"]


def test_bad_config_is_explained_next_to_the_field(staff_client, setup):
    comps, ps = setup
    r = _post(staff_client, comps, ps, config='{"rounds": 99, "colour": "red"}')
    assert r.status_code == 400
    errors = r.context["form"].errors
    assert any(
        msg.startswith("rounds: must be an integer from 1 to 3") for msg in errors["config"]
    ), errors
    assert any("unknown key(s) for swiss: colour" in msg for msg in errors["config"]), errors
    assert "please correct the fields marked below" in r.content.decode()
    assert not m.Tournament.objects.exists()


def test_bad_json_and_inactive_competitor(staff_client, setup):
    comps, ps = setup
    r = _post(staff_client, comps, ps, config="{rounds: 3")
    assert r.status_code == 400 and "config" in r.context["form"].errors
    withdrawn = CompetitorFactory(name="gone", status=m.Competitor.Status.WITHDRAWN)
    r = _post(staff_client, [comps[0], withdrawn], ps)
    assert r.status_code == 400  # not offered: the form refuses it before the service


def test_valid_tournament_is_created_and_started(staff_client, setup):
    comps, ps = setup
    r = _post(staff_client, comps, ps, config='{"rounds": 2}', start_now="on", seed="5")
    assert r.status_code == 302
    t = m.Tournament.objects.get(name="Cup")
    assert r["Location"] == f"/tournaments/{t.id}/"
    assert t.status == m.Tournament.Status.RUNNING and t.config["rounds"] == 2 and t.seed == 5
    assert t.entries.count() == 4
    page = staff_client.get(r["Location"])
    assert "created and started" in page.content.decode()


def test_admin_add_goes_to_the_validated_form_and_actions_call_the_service(staff_client, setup):
    comps, ps = setup
    r = staff_client.get("/admin/arena/tournament/add/")
    assert r.status_code == 302 and r["Location"] == "/staff/tournaments/new"
    _post(staff_client, comps, ps)
    t = m.Tournament.objects.get(name="Cup")
    r = staff_client.post(
        "/admin/arena/tournament/",
        {"action": "tournament_start_action", "_selected_action": [t.id]},
        follow=True,
    )
    t.refresh_from_db()
    assert t.status == m.Tournament.Status.RUNNING
    assert "Started: Cup" in r.content.decode()
    r = staff_client.post(
        "/admin/arena/tournament/",
        {"action": "tournament_resume_action", "_selected_action": [t.id]},
        follow=True,
    )
    assert "Cup: " in r.content.decode()  # a refusal is reported, not a server error
    assert staff_client.get(f"/admin/arena/tournament/{t.id}/change/").status_code == 200


def test_every_entry_point_takes_its_format_choices_from_the_registry(staff_client, setup):
    """The staff form, the admin filter and label, and run_tournament list the registered formats
    (each format module's ``kind``), and refuse other names."""
    import importlib
    import pkgutil

    from django.core.management import CommandError, call_command

    import arena.formats
    from arena.formats import TournamentFormat
    from arena.web.staff import TournamentConfigForm

    declared = set()
    for info in pkgutil.iter_modules(arena.formats.__path__):
        module = importlib.import_module(f"arena.formats.{info.name}")
        for obj in vars(module).values():
            if isinstance(obj, type) and issubclass(obj, TournamentFormat) and "kind" in vars(obj):
                declared.add(obj.kind)
    assert {"round_robin", "swiss", "arena"} <= declared
    form_kinds = {k for k, _ in TournamentConfigForm().fields["format"].choices}
    assert form_kinds == declared

    comps, ps = setup
    _post(staff_client, comps, ps)
    m.Tournament.objects.create(name="Other", format="round_robin")
    page = staff_client.get("/admin/arena/tournament/?format=swiss").content.decode()
    assert "Cup" in page and "Other" not in page and "Swiss system" in page
    with pytest.raises(CommandError, match="invalid choice: 'poker'"):
        call_command(
            "run_tournament", "T", "--format", "poker", "--competitors", "a,b", "--prompt-sets", "p"
        )


def test_admin_edit_of_a_match_keeps_votes_counted_meanwhile(staff_client):
    from django.contrib.admin.sites import site
    from django.test import RequestFactory

    from tests.factories import MatchFactory

    match = MatchFactory(status=m.Match.Status.AWAITING_VOTES)
    model_admin = site._registry[m.Match]
    request = RequestFactory().post("/")
    request.user = UserFactory(is_staff=True, is_superuser=True)
    form_class = model_admin.get_form(request, match, change=True)
    data = {k: v for k, v in form_class(instance=match).initial.items() if v is not None}
    data["status"] = m.Match.Status.DONE
    form = form_class(data, instance=match)
    assert form.is_valid(), form.errors
    m.Match.objects.filter(pk=match.pk).update(n_votes=5)  # votes recorded while the form was open
    model_admin.save_model(request, form.save(commit=False), form, change=True)
    match.refresh_from_db()
    assert (match.status, match.n_votes) == (m.Match.Status.DONE, 5)
