"""Fixtures for the rating tests: reference data from tests/data/ (see its README)."""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pytest
from hypothesis import strategies as st

from ranking.battle_files import battles_from_records
from ranking.battles import Battles
from ranking.cli import main as cli_main

DATA = Path(__file__).resolve().parents[1] / "data"

#: evalica's winner labels mapped to DESIGN.md's.
EVALICA_WINNER = {"left": "model_a", "right": "model_b", "tie": "tie"}


def evalica_records(name: str) -> list[dict[str, Any]]:
    """The comparisons of an evalica golden data set as battle records, in file order."""
    with open(DATA / "evalica_golden" / f"{name}.csv", newline="") as fh:
        return [
            {
                "model_a": row["left"],
                "model_b": row["right"],
                "winner": EVALICA_WINNER[row["winner"]],
            }
            for row in csv.DictReader(fh)
        ]


def evalica_golden(name: str, algorithm: str) -> dict[str, float]:
    """evalica's expected scores for one algorithm on one data set."""
    with open(DATA / "evalica_golden" / f"{name}-golden.csv", newline="") as fh:
        return {
            row["item"]: float(row["score"])
            for row in csv.DictReader(fh)
            if row["algorithm"] == algorithm
        }


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return DATA


@pytest.fixture(scope="session")
def vectors() -> dict[str, Any]:
    """FastChat / arena-rank reference vectors (pairwise_rating_vectors.json)."""
    return json.loads((DATA / "pairwise_rating_vectors.json").read_text())


@pytest.fixture(scope="session")
def evalica_battles() -> Callable[[str], Battles]:
    cache: dict[str, Battles] = {}

    def load(name: str) -> Battles:
        if name not in cache:
            cache[name] = battles_from_records(evalica_records(name))
        return cache[name]

    return load


@pytest.fixture(scope="session")
def wikipedia_battles() -> Battles:
    """The Wikipedia 4-team table as weighted battles (one entry per ordered pair)."""
    table = json.loads((DATA / "bt_wikipedia_wins.json").read_text())
    wins = np.array(table["wins"], dtype=float)
    i, j = np.nonzero(wins)
    return Battles(tuple(table["competitors"]), i, j, np.zeros(len(i)), weight=wins[i, j])


def battles_among_four(*, max_size: int) -> st.SearchStrategy[Battles]:
    """Hypothesis strategy: 1 to ``max_size`` battles among a, b, c, d, any outcome code.

    Each battle draws its first side, an offset 1-3 to the second (so no self-battle) and
    an outcome 0-3.
    """
    rows = st.lists(
        st.tuples(st.integers(0, 3), st.integers(1, 3), st.integers(0, 3)),
        min_size=1,
        max_size=max_size,
    )

    def build(drawn: list[tuple[int, int, int]]) -> Battles:
        a = np.array([r[0] for r in drawn])
        b = (a + np.array([r[1] for r in drawn])) % 4
        return Battles(("a", "b", "c", "d"), a, b, [r[2] for r in drawn])

    return rows.map(build)


def by_name(result: Any, names: list[str]) -> np.ndarray:
    """Ratings of ``result`` in the order of ``names``."""
    return np.array([result.rating[result.models.index(n)] for n in names])


class CliRun(NamedTuple):
    """What one command line run returned: exit status and the two streams."""

    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def run_cli(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Callable[..., CliRun]:
    """``python -m ranking ARGS`` in this process: ``run_cli(*args, stdin=None) -> CliRun``.

    Calls the same ``ranking.cli.main`` the command runs, with ``stdin`` as standard input;
    an argparse error (``SystemExit``) becomes its exit status, as in a real process.
    tests/ranking/test_cli_rate.py keeps one real subprocess as the smoke test.
    """

    def call(*args: str, stdin: str | None = None) -> CliRun:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin or ""))
        capsys.readouterr()  # drop anything printed before this run
        try:
            code = cli_main(list(args))
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 2
        out, err = capsys.readouterr()
        return CliRun(code, out, err)

    return call


def write_input(path: Path, content: object) -> str:
    """Write ``content`` to ``path``, as JSON unless it is a string (malformed input); return it."""
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return str(path)


@pytest.fixture
def run_on_json(tmp_path: Path, run_cli: Callable[..., CliRun]) -> Callable[..., CliRun]:
    """``run_on_json(command, doc, *args)``: ``python -m ranking COMMAND FILE ARGS`` in process.

    ``doc`` is written to FILE, as JSON unless it is already a string (for malformed input).
    """

    def call(command: str, doc: object, *args: str) -> CliRun:
        return run_cli(command, write_input(tmp_path / "in.json", doc), *args)

    return call
