"""``python -m ranking swiss`` end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ranking.cli import main

DATA = Path(__file__).resolve().parents[1] / "data" / "swiss"


def test_pair_prints_like_bbppairings(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["swiss", "pair", str(DATA / "dutch_2025_C5.trf")]) == 0
    assert capsys.readouterr().out == (DATA / "dutch_2025_C5.expected").read_text()


def test_pair_json_and_random(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["swiss", "pair", str(DATA / "dutch_2025_C9.trf"), "--output", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["pairs"] == [[2, 1], [3, 5]] and doc["bye"] == 4 and doc["round"] == 2
    args = ["swiss", "pair", str(DATA / "dutch_2025_C5.trf"), "--system", "random", "--seed", "3"]
    assert main(args) == 0
    first = capsys.readouterr().out
    assert main(args) == 0
    assert capsys.readouterr().out == first
    assert first.splitlines()[0] == "3"


def test_standings_json(capsys: pytest.CaptureFixture[str]) -> None:
    path = str(DATA / "dutch_2025_C5.trf")
    assert (
        main(
            [
                "swiss",
                "standings",
                path,
                "--tiebreaks",
                "BH,BH-C1,SB,DE,WIN,ARO",
                "--output",
                "json",
            ]
        )
        == 0
    )
    doc = json.loads(capsys.readouterr().out)
    rows = doc["standings"]
    assert [r["player"] for r in rows][:2] == [1, 3]
    assert set(rows[0]) >= {"player", "points", "tiebreaks"}
    assert list(rows[0]["tiebreaks"]) == ["BH", "BH-C1", "SB", "DE", "WIN", "ARO"]
    # player 1 met 4 (0 points) and 2 (1 point)
    assert rows[0]["points"] == 2.0 and rows[0]["tiebreaks"]["BH"] == 1.0
    assert main(["swiss", "standings", path, "--output", "csv"]) == 0
    assert capsys.readouterr().out.splitlines()[0] == "rank,player,name,points,BH,BH-C1,SB"


def test_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.trf"
    bad.write_text("012 x\n001    1   bad\n")
    assert main(["swiss", "pair", str(bad)]) == 2
    assert "line 2" in capsys.readouterr().err
    assert main(["swiss", "standings", str(DATA / "dutch_2025_C5.trf"), "--tiebreaks", "NOPE"]) == 2
    assert "NOPE" in capsys.readouterr().err
    assert main(["swiss", "pair", str(tmp_path / "missing.trf")]) == 2
