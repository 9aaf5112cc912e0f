"""``python -m ranking alpharank``: DESIGN.md input, JSON output, errors.

Every test calls the command's entry point (``ranking.cli.main``) in process; the one
subprocess smoke test of the command line is in test_cli_rate.py.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from numpy.testing import assert_allclose

from .conftest import CliRun, write_input

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"
REF = json.loads((DATA / "alpharank_vectors.json").read_text())["vectors"]
GAMES = json.loads((DATA / "alpharank_games.json").read_text())


@pytest.fixture
def cli(run_cli: Callable[..., CliRun]) -> Callable[..., CliRun]:
    """``python -m ranking alpharank ARGS`` in process."""

    def call(*args: str) -> CliRun:
        return run_cli("alpharank", *args)

    return call


def test_square_matrix_json(cli, tmp_path: Path) -> None:
    path = write_input(tmp_path / "rps.json", GAMES["rps"])
    proc = cli(path, "--alpha", "100", "--population-size", "50", "--output", "json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["alpha"] == 100.0 and doc["population_size"] == 50
    assert [p["rank"] for p in doc["profiles"]] == [1, 1, 1]
    assert_allclose([p["mass"] for p in doc["profiles"]], REF["rps_m50_alpha100_local"])
    assert sorted(p["profile"] for p in doc["profiles"]) == [[0], [1], [2]]


def test_payoffs_document_matches_openspiel(cli, tmp_path: Path) -> None:
    names = ["allc", "alld", "fake", "commit", "tft"]
    path = write_input(
        tmp_path / "han.json", {"payoffs": [GAMES["han2013"]], "strategies": [names]}
    )
    proc = cli(path, "--output", "json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    masses = {p["names"][0]: p["mass"] for p in doc["profiles"]}
    assert_allclose([masses[n] for n in names], REF["han2013_m50_alpha100_local"], rtol=1e-9)
    assert [p["mass"] for p in doc["profiles"]] == sorted(masses.values(), reverse=True)
    assert doc["profiles"][0]["names"] == ["tft"] and doc["profiles"][0]["rank"] == 1


def test_two_populations_with_names(cli, tmp_path: Path) -> None:
    doc_in = {"payoffs": [GAMES["pd"], GAMES["pd_column"]], "strategies": [["C", "D"], ["C", "D"]]}
    proc = cli(write_input(tmp_path / "pd.json", doc_in), "--alpha", "0.1", "--output", "json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    first = doc["profiles"][0]
    assert first["profile"] == [1, 1] and first["names"] == ["D", "D"]
    by_profile = {tuple(p["profile"]): p["mass"] for p in doc["profiles"]}
    assert_allclose(
        [by_profile[p] for p in [(0, 0), (0, 1), (1, 0), (1, 1)]],
        REF["pd_2pop_m50_alpha0.1"],
        rtol=1e-9,
        atol=1e-15,
    )


@pytest.mark.parametrize("alpha", ["1000", "1e6", "1e8"])
def test_large_alpha_stays_finite(cli, tmp_path: Path, alpha: str) -> None:
    proc = cli(
        write_input(tmp_path / "brps.json", GAMES["brps"]), "--alpha", alpha, "--output", "json"
    )
    assert proc.returncode == 0, proc.stderr
    assert_allclose([p["mass"] for p in json.loads(proc.stdout)["profiles"]], [1 / 3] * 3)


def test_sweep(cli, tmp_path: Path) -> None:
    path = write_input(tmp_path / "brps.json", GAMES["brps"])
    proc = cli(path, "--alpha", "sweep", "--alphas", "0.01,0.1,100", "--output", "json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["alpha"] == "sweep" and doc["alphas"] == [0.01, 0.1, 100.0]
    assert [s["alpha"] for s in doc["sweep"]] == [0.01, 0.1, 100.0]
    first = {p["profile"][0]: p["mass"] for p in doc["sweep"][0]["profiles"]}
    assert_allclose([first[i] for i in range(3)], REF["brps_m50_alpha0.01_local"], rtol=1e-9)
    table = cli(path, "--alpha", "sweep", "--alphas", "1,1e6")
    assert table.returncode == 0 and "mass@1e+06" in table.stdout


def test_table_and_csv(cli, tmp_path: Path) -> None:
    path = write_input(tmp_path / "pd.json", {"payoffs": [GAMES["pd"]], "strategies": [["C", "D"]]})
    table = cli(path)
    assert table.returncode == 0
    assert table.stdout.splitlines()[0].split() == ["rank", "profile", "mass"]
    csv = cli(path, "--output", "csv")
    assert csv.stdout.splitlines()[0] == "rank,profile,mass"
    assert csv.stdout.splitlines()[1].startswith("1,D,")


def test_battle_file(cli, tmp_path: Path) -> None:
    records = (
        [{"model_a": "a", "model_b": "b", "winner": "model_a"}] * 6
        + [{"model_a": "b", "model_b": "a", "winner": "model_a"}] * 2
        + [{"model_a": "b", "model_b": "c", "winner": "tie"}] * 3
        + [{"model_a": "c", "model_b": "b", "winner": "model_b"}]
    )
    path = write_input(tmp_path / "battles.jsonl", "\n".join(json.dumps(r) for r in records) + "\n")
    proc = cli(path, "--alpha", "10", "--rounds", "25", "--seed", "3", "--output", "json")
    assert proc.returncode == 0, proc.stderr
    assert "never played" in proc.stderr and "a vs c" in proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["unplayed"] == [["a", "c"]]
    assert doc["profiles"][0]["names"] == ["a"]
    for p in doc["profiles"]:
        assert 0 <= p["lower"] <= p["mass"] <= p["upper"] <= 1
    again = cli(path, "--alpha", "10", "--rounds", "25", "--seed", "3", "--output", "json")
    assert again.stdout == proc.stdout
    # a JSON array of records is a battle file too
    array = cli(
        write_input(tmp_path / "battles.json", records), "--alpha", "10", "--output", "json"
    )
    assert array.returncode == 0, array.stderr
    assert [p["names"] for p in json.loads(array.stdout)["profiles"]] == [
        p["names"] for p in doc["profiles"]
    ]


def test_pair_counts_file(cli, tmp_path: Path) -> None:
    path = write_input(
        tmp_path / "pairs.csv",
        "model_a,model_b,wins_a,wins_b,ties\na,b,30,10,0\nb,c,25,5,10\na,c,20,20,0\n",
    )
    proc = cli(path, "--alpha", "3", "--rounds", "20", "--output", "json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert "unplayed" not in doc
    # payoffs: a beats b 3/4, b beats c 30/40, a and c even
    from ranking.alpharank import alpharank_game

    table = [[0.5, 0.75, 0.5], [0.25, 0.5, 0.75], [0.5, 0.25, 0.5]]
    expected = alpharank_game(table, alpha=3.0).mass
    got = {p["names"][0]: p["mass"] for p in doc["profiles"]}
    assert_allclose([got["a"], got["b"], got["c"]], expected, rtol=1e-12)
    for p in doc["profiles"]:
        assert p["lower"] <= p["mass"] <= p["upper"]


@pytest.mark.parametrize(
    ("content", "args", "message"),
    [
        ([[0, 1, 2], [1, 0, 2]], (), "square matrix"),
        ([[0, 1], [2]], (), "rectangular"),
        ("[[0, NaN], [1, 0]]", (), "finite"),
        ({"payoffs": [[[1, 2], [3, 4]], [[1, 2, 3], [4, 5, 6]]]}, (), "shape"),
        ({"payoffs": [[[[1, 2], [3, 4]]], [[[1, 2], [3, 4]]]]}, (), "2 dimensions"),
        ({"payoffs": [[0, 1], [1, 0]], "strategies": [["x"]]}, (), "strategies"),
        ({"matrix": [[0]]}, (), "payoffs"),
        ([[0, 1], [1, 0]], ("--alpha", "-3"), "non-negative"),
        ([[0, 1], [1, 0]], ("--alpha", "fast"), "--alpha"),
        ([[0, 1], [1, 0]], ("--population-size", "1"), "population_size"),
        ([[0, 1], [1, 0]], ("--rounds", "10"), "battle file"),
        ([[0, 1], [1, 0]], ("--alpha", "1", "--alphas", "1,2"), "--alphas"),
    ],
)
def test_errors_exit_2_with_one_line(
    cli, tmp_path: Path, content: object, args: tuple[str, ...], message: str
) -> None:
    proc = cli(write_input(tmp_path / "bad.json", content), *args)
    assert proc.returncode == 2
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert message in lines[0]


def test_missing_file_and_malformed_battles(cli, tmp_path: Path) -> None:
    proc = cli(str(tmp_path / "nope.json"))
    assert proc.returncode == 2 and proc.stderr.startswith("error: ")
    bad = write_input(tmp_path / "bad.jsonl", '{"model_a": "a", "model_b": "b", "winner": "A"}\n')
    proc = cli(bad)
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: ") and "winner" in proc.stderr


def test_battle_file_options(cli, tmp_path: Path) -> None:
    records = [
        {"model_a": "a", "model_b": "b", "winner": "model_a", "anony": True},
        {"model_a": "b", "model_b": "c", "winner": "model_a", "anony": True},
        {"model_a": "a", "model_b": "c", "winner": "nobody"},
        {"model_a": "c", "model_b": "a", "winner": "model_a", "anony": False},
    ]
    path = write_input(tmp_path / "battles.jsonl", "".join(json.dumps(r) + "\n" for r in records))
    failed = cli(path)
    assert failed.returncode == 2 and "line 3" in failed.stderr and failed.stdout == ""
    proc = cli(path, "--skip-invalid", "--output", "json")
    assert proc.returncode == 0, proc.stderr
    assert "skipped 1 malformed row of 4 (first: line 3:" in proc.stderr
    assert "never played" not in proc.stderr
    # --anonymous-only drops c's win over a, the only a-c battle
    anony = cli(path, "--skip-invalid", "--anonymous-only", "--output", "json")
    assert anony.returncode == 0, anony.stderr
    assert "1 pair(s) never played (a vs c)" in anony.stderr
