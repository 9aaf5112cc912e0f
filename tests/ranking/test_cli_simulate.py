"""``python -m ranking simulate``: DESIGN.md input and output, clear errors."""

from __future__ import annotations

import json
from collections.abc import Callable

import numpy as np
import pytest

from .conftest import CliRun

TINY = {
    "models": ["A", "B", "C", "D"],
    "rounds": [
        {"name": "math", "scores": {"A": 90, "B": 80, "C": 70, "D": 60}},
        {"name": "code", "scores": {"A": 10, "B": 20, "C": 30, "D": 40}},
    ],
}


@pytest.fixture
def run(run_on_json: Callable[..., CliRun]) -> Callable[..., CliRun]:
    """``python -m ranking simulate FILE ARGS`` in process, FILE holding ``doc``."""

    def call(doc: object, *args: str) -> CliRun:
        return run_on_json("simulate", doc, *args)

    return call


def test_json_output_matches_hand_derivation(run: Callable[..., CliRun]) -> None:
    # see tests/ranking/test_simulate.py: E[S] = A 1, B 4/3, C 2/3, D 0 with T_1 = 1
    code, out, _ = run(
        TINY, "--iterations", "20000", "--seed", "4", "--eliminate", "1", "--output", "json"
    )
    assert code == 0
    doc = json.loads(out)
    assert doc["iterations"] == 20000 and doc["seed"] == 4
    assert doc["eliminate"] == [1, 0] and doc["rounds"] == ["math", "code"]
    models = {m["name"]: m for m in doc["models"]}
    assert [m["name"] for m in doc["models"]] == ["B", "A", "C", "D"]  # best first
    for name, exact in {"A": 1, "B": 4 / 3, "C": 2 / 3, "D": 0}.items():
        m = models[name]
        assert set(m) == {"name", "expected_score", "stderr", "p_survive", "p_first"}
        assert len(m["p_survive"]) == 2
        assert abs(m["expected_score"] - exact) <= 4 * m["stderr"] + 1e-12
    assert sum(m["p_first"] for m in doc["models"]) == pytest.approx(1.0)


def test_probability_rounds_and_table(run: Callable[..., CliRun]) -> None:
    p = [[0.5, 0.9, 0.9], [0.1, 0.5, 0.6], [0.1, 0.4, 0.5]]
    doc = {
        "models": ["x", "y", "z"],
        "rounds": [{"name": "r1", "p": p}, {"name": "r2", "scores": {"x": 1, "y": 2, "z": 3}}],
    }
    code, out, _ = run(doc, "--iterations", "1000")
    assert code == 0
    assert out.splitlines()[0].split() == [
        "name",
        "expected_score",
        "stderr",
        "p_first",
        "p_survive",
    ]


def test_same_seed_same_output(run: Callable[..., CliRun]) -> None:
    a = run(TINY, "--iterations", "500", "--seed", "1", "--output", "json")[1]
    b = run(TINY, "--iterations", "500", "--seed", "1", "--output", "json")[1]
    assert a == b


def test_sweep(run: Callable[..., CliRun]) -> None:
    code, out, _ = run(TINY, "--iterations", "5000", "--sweep", "0,1", "--output", "json")
    assert code == 0
    doc = json.loads(out)
    assert doc["levels"] == [0, 1]
    d = {m["name"]: m for m in doc["models"]}
    # D wins its round-2 game without elimination and is gone (or on a bye) with it
    assert d["D"]["expected_score"] == [1.0, 0.0]
    assert d["D"]["profile"] == "aggressive specialist"
    assert np.isclose(d["A"]["retention"], 1.0)


@pytest.mark.parametrize(
    "doc, args, msg",
    [
        ("[1, 2", (), "not valid JSON"),
        ({"models": ["A"], "rounds": []}, (), '"models" must be a list of at least 2'),
        ({"models": ["A", "A"], "rounds": [{"scores": {"A": 1}}]}, (), "repeated: A"),
        ({"models": ["A", "B"], "rounds": []}, (), '"rounds" must be a non-empty list'),
        (
            {"models": ["A", "B"], "rounds": [{"name": "r", "scores": {"A": 1}}]},
            (),
            "rounds[0] (r): no score for B",
        ),
        (
            {"models": ["A", "B"], "rounds": [{"name": "r", "scores": {"A": 1, "B": 2, "Q": 3}}]},
            (),
            "unknown model(s) in scores: Q",
        ),
        (
            {"models": ["A", "B"], "rounds": [{"name": "r", "scores": {"A": 1, "B": None}}]},
            (),
            "must be a finite number",
        ),
        ({"models": ["A", "B"], "rounds": [{"name": "r"}]}, (), 'exactly one of "scores" or "p"'),
        (
            {"models": ["A", "B"], "rounds": [{"name": "r", "p": [[0.5, 0.2], [0.2, 0.5]]}]},
            (),
            "must equal 1",
        ),
        (TINY, ("--eliminate", "0,0,1"), "eliminate has 3 entries but there are only 2"),
        (TINY, ("--eliminate", "2,2"), "at most 3 can go"),
        (TINY, ("--eliminate", "a"), "--eliminate must be comma-separated integers"),
        (TINY, ("--iterations", "0"), "--iterations must be a positive integer"),
    ],
)
def test_errors(run: Callable[..., CliRun], doc: object, args: tuple[str, ...], msg: str) -> None:
    code, out, err = run(doc, *args)
    assert code == 2 and out == ""
    assert err.startswith("error: ") and msg in err, err
