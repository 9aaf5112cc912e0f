"""``python -m ranking rate``: called in process (``run_cli``), plus one real subprocess.

The subprocess smoke test is the only one of the command line tests that starts
``python -m ranking``; the others call the same ``ranking.cli.main`` in this process.
"""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from .conftest import CliRun, evalica_records

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def run(run_cli: Callable[..., CliRun]) -> Callable[..., CliRun]:
    """``python -m ranking rate ARGS`` in process."""

    def call(*args: str, stdin: str | None = None) -> CliRun:
        return run_cli("rate", *args, stdin=stdin)

    return call


def test_python_dash_m_smoke(food):
    """The one real subprocess: the module entry point, its exit status and its streams."""
    ok = subprocess.run(
        [sys.executable, "-m", "ranking", "rate", str(food), "--method", "bt", "--output", "json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ok.returncode == 0, ok.stderr
    doc = json.loads(ok.stdout)
    assert doc["method"] == "bt" and doc["ratings"][0]["model"] == "Tacos"
    assert ok.stderr == ""


@pytest.fixture(scope="module")
def food(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("cli") / "food.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in evalica_records("food")))
    return path


def test_json_shape_bt_with_sandwich(food, vectors, run):
    proc = run(str(food), "--method", "bt", "--ci", "sandwich", "--output", "json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert set(doc) == {"method", "params", "n_battles", "ratings"}
    assert doc["method"] == "bt" and doc["n_battles"] == 30
    assert doc["params"]["ci"] == "sandwich" and doc["params"]["scale"] == 400.0
    rows = doc["ratings"]
    assert [r["rating"] for r in rows] == sorted((r["rating"] for r in rows), reverse=True)
    assert set(rows[0]) == {"model", "rating", "lower", "upper", "rank", "battles", "component"}
    ref = vectors["arena_rank"]["food_sandwich"]
    by_model = {r["model"]: r for r in rows}
    for name, lo in zip(ref["competitors"], ref["rating_lower"]):
        assert by_model[name]["lower"] == pytest.approx(lo, abs=0.01)
    assert rows[0]["model"] == "Tacos" and rows[0]["rank"] == 1
    assert sum(r["battles"] for r in rows) == 60


def test_elo_equals_fastchat_and_has_null_intervals(food, vectors, run):
    proc = run(str(food), "--method", "elo", "--output", "json")
    doc = json.loads(proc.stdout)
    ref = vectors["fastchat"]["food"]["fc_compute_elo"]
    for row in doc["ratings"]:
        assert row["rating"] == pytest.approx(ref[row["model"]], abs=1e-9)
        assert row["lower"] is None and row["upper"] is None
    assert [r["rank"] for r in doc["ratings"]] == [1, 2, 3, 4, 5]


def test_table_and_csv(food, run):
    table = run(str(food), "--method", "winrate")
    assert table.returncode == 0
    lines = table.stdout.splitlines()
    assert lines[0].split()[:3] == ["model", "rating", "lower"]
    assert lines[1].split()[0] == "Tacos" and len(lines) == 6
    bootstrap = ("--method", "bt", "--ci", "bootstrap", "--rounds", "20", "--seed", "3")
    out = run(str(food), *bootstrap, "--output", "csv")
    rows = list(csv.DictReader(io.StringIO(out.stdout)))
    assert len(rows) == 5 and rows[0]["model"] == "Tacos"
    assert float(rows[0]["lower"]) <= float(rows[0]["rating"]) <= float(rows[0]["upper"])
    again = run(str(food), *bootstrap, "--output", "csv")
    assert again.stdout == out.stdout


def test_stdin_anchor_and_pair_counts(tmp_path, run):
    text = "model_a,model_b,winner\nx,y,model_a\ny,z,tie\nz,x,model_b\nx,y,model_b\ny,x,tie\n"
    proc = run("-", "--anchor", "x=1200", "--output", "json", stdin=text)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert {r["model"]: r["rating"] for r in doc["ratings"]}["x"] == pytest.approx(1200.0)
    assert doc["params"]["anchor"] == {"model": "x", "value": 1200.0}
    pairs = tmp_path / "p.csv"
    pairs.write_text("model_a,model_b,wins_a,wins_b,ties\nx,y,1,1,1\ny,z,0,0,1\nz,x,0,1,0\n")
    from_pairs = json.loads(run(str(pairs), "--anchor", "x=1200", "--output", "json").stdout)
    assert [r["rating"] for r in from_pairs["ratings"]] == pytest.approx(
        [r["rating"] for r in doc["ratings"]], abs=1e-9
    )
    elo = run(str(pairs), "--method", "elo")
    assert elo.returncode == 2 and "individual battles" in elo.stderr


def test_bad_file_exits_2_with_one_line(tmp_path, run):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(
        '{"model_a": "x", "model_b": "y", "winner": "model_a"}\n'
        '{"model_a": "x", "model_b": "y", "winner": "maybe"}\n'
    )
    for args in (
        [str(bad)],
        [str(tmp_path / "missing.jsonl")],
        ["-", "--anchor", "nope"],
        [str(bad), "--confidence", "2"],
    ):
        proc = run(*args, stdin="")
        assert proc.returncode == 2, args
        assert proc.stdout == ""
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
        assert "Traceback" not in proc.stderr
    assert "line 2: winner must be one of" in run(str(bad)).stderr


def test_skip_invalid_reports_count(tmp_path, run):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(
        '{"model_a": "x", "model_b": "y", "winner": "model_a"}\n'
        '{"model_a": "y", "model_b": "y", "winner": "tie"}\n'
        '{"model_a": "y", "model_b": "x", "winner": "tie"}\n'
    )
    proc = run(str(bad), "--skip-invalid", "--output", "json")
    assert proc.returncode == 0
    assert "skipped 1 malformed row of 3" in proc.stderr
    assert json.loads(proc.stdout)["n_battles"] == 2


def test_disconnected_warning_on_stderr(run):
    text = "model_a,model_b,winner\na,b,model_a\nb,a,tie\nc,d,tie\n"
    proc = run("-", "--output", "json", stdin=text)
    assert proc.returncode == 0
    assert "warning: the comparison graph has 2 connected components" in proc.stderr
    comps = {r["model"]: r["component"] for r in json.loads(proc.stdout)["ratings"]}
    assert comps == {"a": 0, "b": 0, "c": 1, "d": 1}


def test_anonymous_only(run):
    recs = [
        {"model_a": "a", "model_b": "b", "winner": "model_a", "anony": True},
        {"model_a": "b", "model_b": "a", "winner": "model_a", "anony": False},
        {"model_a": "b", "model_b": "a", "winner": "tie", "anony": True},
    ]
    text = "".join(json.dumps(r) + "\n" for r in recs)
    doc = json.loads(run("-", "--anonymous-only", "--output", "json", stdin=text).stdout)
    assert doc["n_battles"] == 2


def test_elo_bootstrap_and_winrate_confidence_flags(food, run):
    from ranking.battle_files import battles_from_records
    from ranking.elo import elo

    proc = run(
        str(food),
        "--method",
        "elo",
        "--ci",
        "bootstrap",
        "--rounds",
        "50",
        "--seed",
        "3",
        "--output",
        "json",
    )
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    lib = elo(battles_from_records(evalica_records("food")), ci="bootstrap", rounds=50, rng=3)
    by_model = {r["model"]: r for r in doc["ratings"]}
    for i, name in enumerate(lib.models):
        assert by_model[name]["lower"] == pytest.approx(lib.lower[i], abs=1e-9)
        assert by_model[name]["upper"] == pytest.approx(lib.upper[i], abs=1e-9)
    assert doc["params"]["ci"] == "bootstrap" and doc["params"]["seed"] == 3
    wide = json.loads(
        run(str(food), "--method", "winrate", "--confidence", "0.99", "--output", "json").stdout
    )["ratings"][0]
    narrow = json.loads(
        run(str(food), "--method", "winrate", "--confidence", "0.5", "--output", "json").stdout
    )["ratings"][0]
    assert wide["lower"] < narrow["lower"] <= narrow["rating"] <= narrow["upper"] < wide["upper"]
    bad = run(str(food), "--method", "elo", "--ci", "sandwich")
    assert bad.returncode == 2 and "ci must be one of none, bootstrap" in bad.stderr
