"""Bad input gets a clear 4xx naming the field, never a 500, and never loses or adds data.

Runs on PostgreSQL (the exported DATABASE_URL): it refuses NUL in text, which SQLite stores.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from arena import models as m
from tests.arena.test_api_common import API, assert_error, counts, tournament_body
from tests.factories import CompetitorFactory, TournamentFactory, prompt_set_with_prompts

pytest_plugins = ["tests.arena.test_api_common"]
pytestmark = pytest.mark.django_db


# --------------------------------------------------------------------------- query strings


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("models/?owner=%00", "owner"),
        ("models/?provider=%00", "provider"),
        ("models/?search=a%00b", "search"),
        ("battles/next/?category=%00", "category"),
        ("leaderboard/?category=%00", "category"),
        ("leaderboard/?method=bt%01", "method"),
        ("tournaments/?ordering=%00", "ordering"),
        (f"models/?owner={'x' * 1001}", "owner"),
    ],
)
def test_api_query_strings(anon, path, field):
    CompetitorFactory()
    assert_error(anon.get(f"{API}/{path}"), 400, "invalid", field)


@pytest.mark.parametrize(
    "path",
    [
        "/?method=%00",
        "/?category=%00",
        "/?source=%00",
        "/leaderboard.json?category=%00",
        "/models/?x=%00",
        "/tournaments/?q=" + "y" * 1001,
    ],
)
def test_page_query_strings(path):
    r = Client().get(path)
    assert r.status_code == 400
    assert b"Bad request" in r.content


def test_clean_query_strings_still_work(anon):
    CompetitorFactory(provider="acme")
    assert anon.get(f"{API}/models/?provider=acme&search=model").json()["count"] == 1
    assert Client().get("/?method=elo&category=writing").status_code == 200


# --------------------------------------------------------------------------- JSON bodies


@pytest.fixture
def entrants(db):
    prompt_set = prompt_set_with_prompts(6)  # each round draws prompts of its own (none reused)
    return [CompetitorFactory(name=f"c{i}") for i in range(4)], prompt_set


def _tournament(client, entrants, **over):
    return client.post(f"{API}/tournaments/", tournament_body(*entrants, **over), format="json")


@pytest.mark.parametrize(
    ("over", "field"),
    [
        (
            {"judge_pipeline": {"judges": [{"name": "judge\u0000", "kind": "simulated"}]}},
            "judge_pipeline.judges[0].name",
        ),
        (
            {"judge_pipeline": {"judges": [{"name": "j", "provider": 5}]}},
            "judge_pipeline.judges[0].provider",
        ),
        (
            {"judge_pipeline": {"judges": [{"name": "j", "provider": "p" * 101}]}},
            "judge_pipeline.judges[0].provider",
        ),
        ({"format": "swiss", "config": {"rounds": None}}, "config.rounds"),
        ({"format": "arena", "config": {"battles": None}}, "config.battles"),
        ({"format": "arena", "config": {"batch": None}}, "config.batch"),
        ({"format": "gauntlet", "config": {"games": None}}, "config.games"),
        ({"format": "gauntlet", "config": {"block": 0}}, "config.block"),
        ({"config": {"forfeit_after": None}}, "config.forfeit_after"),
    ],
)
def test_tournament_bodies(admin_client, entrants, over, field):
    before = counts()
    assert_error(_tournament(admin_client, entrants, **over), 400, "invalid", field)
    assert counts() == before


def test_lone_surrogate_in_a_body(admin_client, entrants):
    comps, _ = entrants
    body = json.dumps(
        {
            "name": "Cup",
            "format": "round_robin",
            "competitors": [c.name for c in comps],
            "judge_pipeline": {"judges": [{"name": "\ud800"}]},
        }
    )  # ensure_ascii escapes it
    before = counts()
    r = admin_client.post(f"{API}/tournaments/", body, content_type="application/json")
    assert_error(r, 400, "invalid", "judge_pipeline.judges[0].name")
    assert counts() == before


def test_nul_in_a_model_param_body(owner_client):
    r = owner_client.post(
        f"{API}/models/",
        {"name": "m1", "kind": "openai", "params": {"stop": ["\u0000"]}},
        format="json",
    )
    assert_error(r, 400, "invalid", "params.stop[0]")
    assert not m.Competitor.objects.exists()


def test_starting_with_one_entrant_left(admin_client, entrants):
    tid = _tournament(admin_client, entrants).json()["id"]
    m.Entry.objects.filter(tournament_id=tid).exclude(seed=1).delete()  # removed in the admin
    assert_error(
        admin_client.post(f"{API}/tournaments/{tid}/start/"), 400, "invalid", "competitors"
    )
    t = m.Tournament.objects.get(pk=tid)
    assert t.status == m.Tournament.Status.DRAFT and t.started_at is None
    assert not m.Match.objects.filter(tournament_id=tid).exists()
    assert admin_client.get(f"{API}/tournaments/{tid}/progress/").status_code == 200


def test_starting_with_too_few_entrants_for_the_rounds(admin_client, entrants):
    tid = _tournament(admin_client, entrants, format="swiss", config={"rounds": 3}).json()["id"]
    m.Entry.objects.filter(tournament_id=tid, seed__gt=2).delete()
    assert_error(
        admin_client.post(f"{API}/tournaments/{tid}/start/"), 400, "invalid", "config.rounds"
    )
    assert m.Tournament.objects.get(pk=tid).status == m.Tournament.Status.DRAFT


def test_start_still_conflicts_when_not_draft(admin_client):
    t = TournamentFactory(status=m.Tournament.Status.RUNNING)
    for i in range(2):
        m.Entry.objects.create(tournament=t, competitor=CompetitorFactory(), seed=i + 1)
    assert_error(admin_client.post(f"{API}/tournaments/{t.pk}/start/"), 409, "conflict")


# --------------------------------------------------------------------------- import


def _upload(client, content: str, **params):
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return client.post(
        f"{API}/battles/import/?{query}",
        {"file": SimpleUploadedFile("f", content.encode())},
        format="multipart",
    )


def _jsonl(*records) -> str:
    return "".join(json.dumps(r) + "\n" for r in records)


GOOD = {"model_a": "alpha", "model_b": "beta", "winner": "model_a", "tstamp": 1700000000}
BAD_FILES = [
    (
        "model_a,model_b,wins_a,wins_b,ties\nalpha,beta,1,2,3\nalpha,beta,100000000000000000000,1,0\n",
        3,
        "wins_a",
    ),
    (_jsonl(GOOD, dict(GOOD, tstamp=1e300)), 2, "tstamp"),
    (_jsonl(GOOD, dict(GOOD, tstamp=-1e12)), 2, "tstamp"),
    (_jsonl(GOOD, dict(GOOD, model_b="x" * 101)), 2, "model_b"),  # longer than a competitor name
    (_jsonl(GOOD, dict(GOOD, model_a="nul\u0000name")), 2, "model_a"),
    ("model_a,model_b,winner,category\nalpha,beta,tie,ok\nalpha,beta,tie,bad\x01\n", 3, "category"),
    (_jsonl(GOOD, dict(GOOD, category="c" * 51)), 2, "category"),  # longer than Battle.category
    (_jsonl(GOOD, dict(GOOD, anony="no")), 2, "anony"),
]


@pytest.fixture
def known(db):
    return [CompetitorFactory(name=n) for n in ("alpha", "beta")]


@pytest.mark.parametrize(("content", "line", "field"), BAD_FILES)
def test_import_refuses_with_line_numbers(admin_client, known, content, line, field):
    before = counts()
    error = assert_error(_upload(admin_client, content, create_models="true"), 400, "invalid_file")
    assert error["errors"][0]["line"] == line and field in error["errors"][0]["message"], error
    assert counts() == before


@pytest.mark.parametrize(("content", "line", "field"), BAD_FILES)
def test_import_skips_only_the_bad_row(admin_client, known, content, line, field):
    r = _upload(admin_client, content, create_models="true", skip_invalid="true")
    assert r.status_code == 201, r.content
    report = r.json()
    assert report["skipped"] == 1 and report["errors"][0]["line"] == line
    assert report["created_models"] == []


@pytest.mark.parametrize(("content", "line", "field"), BAD_FILES)
def test_import_command_refuses(tmp_path, known, content, line, field):
    path = tmp_path / "battles.txt"
    path.write_text(content)
    before = counts()
    with pytest.raises(CommandError, match=f"line {line}: {field}"):
        call_command("import_battles", str(path), "--create-models")
    assert counts() == before


#: The CLI stores nothing, so only the database's length limits do not apply to it.
CLI_BAD_FILES = [case for case in BAD_FILES if "x" * 101 not in case[0] and "c" * 51 not in case[0]]


@pytest.mark.parametrize(("content", "line", "field"), CLI_BAD_FILES)
def test_cli_refuses(tmp_path, content, line, field):
    path = tmp_path / "battles.txt"
    path.write_text(content)
    proc = subprocess.run(
        [sys.executable, "-m", "ranking", "rate", str(path), "--method", "bt"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode != 0
    assert f"line {line}: {field}" in proc.stderr and "Traceback" not in proc.stderr


def test_import_keeps_each_records_anony_and_category(admin_client, known):
    content = _jsonl(
        dict(GOOD, anony=False, category="coding"),
        dict(GOOD, anony=True, category="writing"),
        dict(GOOD, winner="tie"),  # neither: the defaults
        dict(GOOD, category="  "),  # blank: the default
    )
    r = _upload(admin_client, content, category="math")
    assert r.status_code == 201, r.content
    stored = list(m.Battle.objects.order_by("id").values_list("anony", "category"))
    assert stored == [(False, "coding"), (True, "writing"), (True, "math"), (True, "math")]


def test_import_csv_keeps_anony_and_category(admin_client, known):
    content = (
        "model_a,model_b,winner,anony,category\n"
        "alpha,beta,model_a,false,coding\n"
        "alpha,beta,tie,true,\n"
    )
    assert _upload(admin_client, content).status_code == 201
    stored = list(m.Battle.objects.order_by("id").values_list("anony", "category"))
    assert stored == [(False, "coding"), (True, "general")]


def test_import_sums_duplicate_pair_rows_exactly(admin_client, known):
    big = 2**53
    content = f"model_a,model_b,wins_a,wins_b,ties\nalpha,beta,{big},0,1\nalpha,beta,1,{big},0\n"
    assert _upload(admin_client, content).status_code == 201
    row = m.PairCount.objects.get()
    assert (row.wins_a, row.wins_b, row.ties) == (big + 1, big, 1)  # 2**53 + 1 is not a float64


def test_import_file_category_is_checked(admin_client, known):
    assert_error(_upload(admin_client, _jsonl(GOOD), category="a%01b"), 400, "invalid", "category")
    with pytest.raises(CommandError, match="category"):
        call_command("import_battles", "-", "--category", "nul\x00")


# --------------------------------------------------------------------------- nested errors


def test_list_item_errors_are_flat_field_paths(owner_client):
    """DRF nests a list item's errors (``{"ranking": {"0": [...]}}``); the API's error shape is
    one list of messages per field, so they come back under ``ranking.0`` (schemathesis found
    the nested form on ``votes/kwise/``, against the documented ``ErrorDetail`` schema)."""
    before = counts()
    r = owner_client.post(
        f"{API}/votes/kwise/",
        {"token": "x", "ranking": ["", "ABCDEFGHIJKL", "A"]},
        format="json",
    )
    assert r.status_code == 400, r.content
    fields = r.json()["error"]["fields"]
    assert set(fields) == {"ranking.0", "ranking.1"}
    for messages in fields.values():
        assert messages and all(isinstance(text, str) for text in messages)
    assert counts() == before
