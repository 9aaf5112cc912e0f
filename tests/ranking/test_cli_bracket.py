"""``python -m ranking bracket``: DESIGN.md input and output, clear errors."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose

from ranking.cli import main

from .conftest import CliRun

DATA = Path(__file__).resolve().parents[1] / "data"
REF = json.loads((DATA / "bracket_vectors.json").read_text())["vectors"]["8_player"]


@pytest.fixture
def run(run_on_json: Callable[..., CliRun]) -> Callable[..., CliRun]:
    """``python -m ranking bracket FILE ARGS`` in process, FILE holding ``doc``."""

    def call(doc: object, *args: str) -> CliRun:
        return run_on_json("bracket", doc, *args)

    return call


def entrants() -> dict:
    return {
        "entrants": [
            {"name": f"m{i + 1}", "rating": r} for i, r in enumerate(REF["ratings_by_seed"])
        ]
    }


def test_exact_json_matches_reference(run: Callable[..., CliRun]) -> None:
    code, out, _ = run(entrants(), "--output", "json")
    assert code == 0
    doc = json.loads(out)
    assert doc["rounds"] == 3
    assert [e["seed"] for e in doc["entrants"]] == list(range(1, 9))
    assert doc["entrants"][0]["name"] == "m1"
    reach = np.array([e["p_reach"] for e in doc["entrants"]])
    assert reach.shape == (8, 4)
    assert_allclose(reach[:, 0], 1.0)
    assert_allclose(reach[:, 1], REF["P_win_round1"], atol=1e-12)
    assert_allclose(reach[:, 2], REF["P_win_semis"], atol=1e-12)
    assert_allclose(reach[:, 3], REF["P_champion"], atol=1e-12)
    assert "stderr" not in doc["entrants"][0]


def test_matrix_input(run: Callable[..., CliRun]) -> None:
    r = REF["ratings_by_seed"]
    p = [[0.5 if a == b else 1 / (1 + 10 ** ((b - a) / 400)) for b in r] for a in r]
    doc = {"entrants": [{"name": f"m{i}"} for i in range(8)], "p": p}
    code, out, _ = run(doc, "--output", "json")
    assert code == 0
    champ = [e["p_reach"][-1] for e in json.loads(out)["entrants"]]
    assert_allclose(champ, REF["P_champion"], atol=1e-12)


def test_simulations_report_standard_errors(run: Callable[..., CliRun]) -> None:
    code, out, _ = run(entrants(), "--simulations", "20000", "--seed", "3", "--output", "json")
    assert code == 0
    doc = json.loads(out)
    assert doc["simulations"] == 20000 and doc["seed"] == 3
    est = np.array([e["p_reach"][-1] for e in doc["entrants"]])
    se = np.array([e["stderr"][-1] for e in doc["entrants"]])
    assert np.all(np.abs(est - REF["P_champion"]) < 4 * se)
    code, again, _ = run(entrants(), "--simulations", "20000", "--seed", "3", "--output", "json")
    assert again == out


def test_table_and_csv(run: Callable[..., CliRun]) -> None:
    doc = {
        "entrants": [
            {"name": "a", "rating": 1200},
            {"name": "b", "rating": 1000},
            {"name": "c", "rating": 900},
        ]
    }
    code, out, _ = run(doc)
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["name", "seed", "round_1", "round_2", "champion"]
    assert lines[1].split()[:4] == ["a", "1", "1", "1"]  # seed 1 has a bye
    code, out, _ = run(doc, "--output", "csv")
    assert out.splitlines()[0] == "name,seed,round_1,round_2,champion"


def test_third_place(run: Callable[..., CliRun]) -> None:
    code, out, _ = run(entrants(), "--third-place", "--output", "json")
    third = [e["p_third"] for e in json.loads(out)["entrants"]]
    assert sum(third) == pytest.approx(1.0)


@pytest.mark.parametrize(
    "doc, msg",
    [
        ("{not json", "line 1: not valid JSON"),
        ({"players": []}, '"entrants"'),
        ({"entrants": [{"name": "a", "rating": 1}]}, "at least 2"),
        (
            {"entrants": [{"name": "a"}, {"name": "b", "rating": 1}]},
            'entrants[0] (a) needs a "rating"',
        ),
        (
            {"entrants": [{"name": "a", "rating": "x"}, {"name": "b", "rating": 1}]},
            "entrants[0].rating must be a finite number",
        ),
        ({"entrants": [{"name": "a", "rating": 1}, {"name": "a", "rating": 2}]}, "repeated: a"),
        (
            {"entrants": [{"name": "a"}, {"name": "b"}], "p": [[0.5, 0.7], [0.7, 0.5]]},
            "p[0][1] + p[1][0] must equal 1",
        ),
        ({"entrants": [{"name": "a"}, {"name": "b"}], "p": [[0.5, 0.7]]}, "list of 2 rows"),
    ],
)
def test_errors(run: Callable[..., CliRun], doc: object, msg: str) -> None:
    code, out, err = run(doc)
    assert code == 2 and out == ""
    assert err.startswith("error: ") and msg in err
    assert len(err.strip().splitlines()) == 1


def test_bad_simulations_and_missing_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], run: Callable[..., CliRun]
) -> None:
    code, _, err = run(entrants(), "--simulations", "0")
    assert code == 2 and "--simulations" in err
    assert main(["bracket", str(tmp_path / "missing.json")]) == 2
    assert "missing.json" in capsys.readouterr().err


def test_double_elimination(run: Callable[..., CliRun]) -> None:
    code, out, _ = run(entrants(), "--double", "--simulations", "5000", "--output", "json")
    assert code == 0
    doc = json.loads(out)
    assert doc["format"] == "double_elimination" and doc["grand_final_reset"] is True
    assert doc["simulations"] == 5000 and doc["rounds"] == 3
    assert sum(e["p_champion"] for e in doc["entrants"]) == pytest.approx(1.0)
    assert set(doc["entrants"][0]["stderr"]) == {
        "p_champion",
        "p_grand_final",
        "p_unbeaten",
        "expected_wins",
        "expected_place",
    }
    code, out, _ = run(entrants(), "--double", "--no-reset", "--simulations", "2000")
    assert code == 0 and out.splitlines()[0].split()[:3] == ["name", "seed", "p_champion"]
