"""battles/import/ and battles/export/ plus the import_battles/export_battles commands."""

from __future__ import annotations

import io
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError

from arena import models as m
from tests.arena.test_api_common import API, assert_error, counts
from tests.factories import BattleFactory, CompetitorFactory

pytest_plugins = ["tests.arena.test_api_common"]
pytestmark = pytest.mark.django_db

PAIRS = (
    "model_a,model_b,wins_a,wins_b,ties\nalpha,beta,10,5,2\nbeta,gamma,3,4,0\nalpha,beta,1,1,1\n"
)
RECORDS = (
    "\n".join(
        json.dumps(r)
        for r in [
            {"model_a": "alpha", "model_b": "beta", "winner": "model_a", "tstamp": 1700000000},
            {
                "model_a": "beta",
                "model_b": "gamma",
                "winner": "tie (bothbad)",
                "tstamp": 1700000001,
            },
            {"model_a": "gamma", "model_b": "alpha", "winner": "model_b", "tstamp": 1700000002},
        ]
    )
    + "\n"
)


@pytest.fixture
def models3(db):
    return [CompetitorFactory(name=n) for n in ("alpha", "beta", "gamma")]


def _upload(client, content: str, name="battles.csv", **params):
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return client.post(
        f"{API}/battles/import/?{query}",
        {"file": SimpleUploadedFile(name, content.encode())},
        format="multipart",
    )


def test_pair_counts_become_pair_rows(admin_client, models3):
    r = _upload(admin_client, PAIRS)
    assert r.status_code == 201, r.content
    rep = r.json()
    assert (rep["kind"], rep["n_rows"], rep["n_battles"], rep["n_stored"]) == ("pairs", 3, 27, 2)
    ab = m.PairCount.objects.get(model_a__name="alpha", model_b__name="beta")
    assert (ab.wins_a, ab.wins_b, ab.ties) == (11, 6, 3)
    assert m.Battle.objects.count() == 0
    assert m.ImportBatch.objects.get().fmt == "pairs"


def test_records_as_raw_body(admin_client, models3):
    r = admin_client.post(
        f"{API}/battles/import/?category=coding", RECORDS, content_type="application/x-ndjson"
    )
    assert r.status_code == 201, r.content
    assert r.json()["n_stored"] == 3
    rows = list(
        m.Battle.objects.order_by("tstamp").values_list(
            "model_a__name", "outcome", "source", "category"
        )
    )
    assert rows == [
        ("alpha", "model_a", "import", "coding"),
        ("beta", "tie (bothbad)", "import", "coding"),
        ("gamma", "model_b", "import", "coding"),
    ]
    assert m.Battle.objects.order_by("tstamp").first().tstamp.timestamp() == 1700000000


def test_json_array_and_csv(admin_client, models3):
    arr = json.dumps([{"model_a": "alpha", "model_b": "beta", "winner": "tie"}])
    assert (
        admin_client.post(
            f"{API}/battles/import/", arr, content_type="application/json"
        ).status_code
        == 201
    )
    csv_text = "model_a,model_b,winner\nalpha,gamma,model_b\n"
    assert _upload(admin_client, csv_text).status_code == 201
    assert m.Battle.objects.count() == 2


def test_malformed_file_imports_nothing(admin_client, models3):
    bad = PAIRS + "alpha,alpha,1,0,0\ngamma,beta,-1,0,0\n"
    before = counts()
    err = assert_error(_upload(admin_client, bad), 400, "invalid_file")
    assert err["errors"] and all("line" in e for e in err["errors"])
    assert counts() == before
    r = _upload(admin_client, bad, skip_invalid="true")
    assert r.status_code == 201 and r.json()["skipped"] == 2 and len(r.json()["errors"]) == 2


@pytest.mark.parametrize(
    "content", ["", "not,a,battle,file\n1,2,3,4\n", "{broken json\n", "\xff\xfe garbage"]
)
def test_garbage_is_refused(admin_client, models3, content):
    before = counts()
    r = _upload(admin_client, content)
    assert 400 <= r.status_code < 500, r.content
    assert counts() == before


def test_unknown_models_refused_unless_create(admin_client, models3):
    text = "model_a,model_b,winner\nalpha,newcomer,model_a\n"
    before = counts()
    err = assert_error(_upload(admin_client, text), 400, "unknown_models", "models")
    assert "newcomer" in err["message"]
    assert counts() == before
    r = _upload(admin_client, text, create_models="true")
    assert r.status_code == 201 and r.json()["created_models"] == ["newcomer"]
    assert m.Competitor.objects.get(name="newcomer").status == "active"


def test_oversize_refused(admin_client, models3, settings):
    settings.LUDUS_IMPORT_MAX_BYTES = 50
    before = counts()
    assert_error(_upload(admin_client, PAIRS * 3), 413, "too_large")
    assert_error(
        admin_client.post(f"{API}/battles/import/", RECORDS, content_type="application/x-ndjson"),
        413,
    )
    assert counts() == before


def test_import_permissions(owner_client, anon, models3):
    before = counts()
    assert_error(_upload(owner_client, PAIRS), 403)
    assert _upload(anon, PAIRS).status_code in (401, 403)
    assert counts() == before


def test_missing_file_field(admin_client):
    r = admin_client.post(f"{API}/battles/import/", {"other": "x"}, format="multipart")
    assert_error(r, 400, "invalid", "file")


def test_export_formats_round_trip(admin_client, models3, owner_client):
    a, b, c = models3
    BattleFactory(model_a=a, model_b=b, outcome="model_a", category="coding")
    BattleFactory(model_a=b, model_b=c, outcome="tie")
    batch = m.ImportBatch.objects.create(fmt="pairs")
    m.PairCount.objects.create(batch=batch, model_a=a, model_b=b, wins_a=4, wins_b=1, ties=2)
    r = admin_client.get(f"{API}/battles/export/?format=jsonl")
    assert r.status_code == 200 and r["Content-Type"].startswith("application/x-ndjson")
    lines = [json.loads(x) for x in b"".join(r.streaming_content).decode().splitlines()]
    assert [(x["model_a"], x["model_b"], x["winner"]) for x in lines] == [
        ("alpha", "beta", "model_a"),
        ("beta", "gamma", "tie"),
    ]
    r = admin_client.get(f"{API}/battles/export/?format=csv&category=coding")
    text = b"".join(r.streaming_content).decode()
    assert text.splitlines()[0].startswith("model_a,model_b,winner") and len(text.splitlines()) == 2
    r = admin_client.get(f"{API}/battles/export/?format=pairs")
    text = b"".join(r.streaming_content).decode().splitlines()
    assert text[0] == "model_a,model_b,wins_a,wins_b,ties"
    assert "alpha,beta,5,1,2" in text and "beta,gamma,0,0,1" in text
    assert_error(admin_client.get(f"{API}/battles/export/?format=xml"), 400, "invalid", "format")
    assert_error(owner_client.get(f"{API}/battles/export/"), 403)


def test_commands(tmp_path, models3, capsys):
    path = tmp_path / "pairs.csv"
    path.write_text(PAIRS)
    call_command("import_battles", str(path))
    assert "imported 27 battles" in capsys.readouterr().out
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"model_a": "alpha", "model_b": "zed", "winner": "model_a"}\n')
    before = counts()
    with pytest.raises(CommandError, match="zed"):
        call_command("import_battles", str(bad))
    assert counts() == before
    call_command("import_battles", str(bad), "--create-models")
    out = tmp_path / "out.csv"
    call_command("export_battles", "--format", "pairs", "-o", str(out))
    assert "alpha,zed,1,0,0" in out.read_text()
    buf = io.StringIO()
    call_command("export_battles", stdout=buf)
    assert '"model_b": "zed"' in buf.getvalue()
