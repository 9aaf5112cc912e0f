"""``python -m ranking bracket``: DESIGN.md input and output, clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose

from ranking.cli import main

DATA = Path(__file__).resolve().parents[1] / "data"
REF = json.loads((DATA / "bracket_vectors.json").read_text())["vectors"]["8_player"]


def run(
    tmp_path: Path, doc: object, *args: str, capsys: pytest.CaptureFixture[str]
) -> tuple[int, str, str]:
    path = tmp_path / "in.json"
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    code = main(["bracket", str(path), *args])
    out, err = capsys.readouterr()
    return code, out, err


def entrants() -> dict:
    return {
        "entrants": [
            {"name": f"m{i + 1}", "rating": r} for i, r in enumerate(REF["ratings_by_seed"])
        ]
    }


def test_exact_json_matches_reference(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(tmp_path, entrants(), "--output", "json", capsys=capsys)
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


def test_matrix_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    r = REF["ratings_by_seed"]
    p = [[0.5 if a == b else 1 / (1 + 10 ** ((b - a) / 400)) for b in r] for a in r]
    doc = {"entrants": [{"name": f"m{i}"} for i in range(8)], "p": p}
    code, out, _ = run(tmp_path, doc, "--output", "json", capsys=capsys)
    assert code == 0
    champ = [e["p_reach"][-1] for e in json.loads(out)["entrants"]]
    assert_allclose(champ, REF["P_champion"], atol=1e-12)


def test_simulations_report_standard_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(
        tmp_path,
        entrants(),
        "--simulations",
        "20000",
        "--seed",
        "3",
        "--output",
        "json",
        capsys=capsys,
    )
    assert code == 0
    doc = json.loads(out)
    assert doc["simulations"] == 20000 and doc["seed"] == 3
    est = np.array([e["p_reach"][-1] for e in doc["entrants"]])
    se = np.array([e["stderr"][-1] for e in doc["entrants"]])
    assert np.all(np.abs(est - REF["P_champion"]) < 4 * se)
    code, again, _ = run(
        tmp_path,
        entrants(),
        "--simulations",
        "20000",
        "--seed",
        "3",
        "--output",
        "json",
        capsys=capsys,
    )
    assert again == out


def test_table_and_csv(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = {
        "entrants": [
            {"name": "a", "rating": 1200},
            {"name": "b", "rating": 1000},
            {"name": "c", "rating": 900},
        ]
    }
    code, out, _ = run(tmp_path, doc, capsys=capsys)
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["name", "seed", "round_1", "round_2", "champion"]
    assert lines[1].split()[:4] == ["a", "1", "1", "1"]  # seed 1 has a bye
    code, out, _ = run(tmp_path, doc, "--output", "csv", capsys=capsys)
    assert out.splitlines()[0] == "name,seed,round_1,round_2,champion"


def test_third_place(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(tmp_path, entrants(), "--third-place", "--output", "json", capsys=capsys)
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
def test_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str], doc: object, msg: str) -> None:
    code, out, err = run(tmp_path, doc, capsys=capsys)
    assert code == 2 and out == ""
    assert err.startswith("error: ") and msg in err
    assert len(err.strip().splitlines()) == 1


def test_bad_simulations_and_missing_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(tmp_path, entrants(), "--simulations", "0", capsys=capsys)
    assert code == 2 and "--simulations" in err
    assert main(["bracket", str(tmp_path / "missing.json")]) == 2
    assert "missing.json" in capsys.readouterr().err


def test_double_elimination(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        tmp_path, entrants(), "--double", "--simulations", "5000", "--output", "json", capsys=capsys
    )
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
    code, out, _ = run(
        tmp_path, entrants(), "--double", "--no-reset", "--simulations", "2000", capsys=capsys
    )
    assert code == 0 and out.splitlines()[0].split()[:3] == ["name", "seed", "p_champion"]
