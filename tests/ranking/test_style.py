"""Style control (ranking.style): FastChat's objective, arena-rank, simulation, conv_metadata.

Expected values come from outside the code under test: scipy's L-BFGS on the objective
written out here, FastChat's and arena-rank's own fits (tests/data/style/, made by
``make_style_vectors.py``), a simulation with a known style effect, and markdown counts
done by hand.
"""

from __future__ import annotations

import io
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy.optimize import minimize
from scipy.special import expit

from ranking.battle_files import read_battles, write_battles
from ranking.battles import Battles
from ranking.bradley_terry import bradley_terry
from ranking.cli import main
from ranking.errors import BattleFileError, InputError
from ranking.style import (
    STYLE_ELEMENTS,
    bradley_terry_style,
    conv_metadata_from_answers,
    markdown_counts,
)

DATA = Path(__file__).resolve().parents[1] / "data" / "style"
CODE = {"model_a": 0, "model_b": 1, "tie": 2}


@pytest.fixture(scope="module")
def ref() -> dict[str, Any]:
    return json.loads((DATA / "style_vectors.json").read_text())


@pytest.fixture(scope="module")
def stored(ref: dict[str, Any]) -> tuple[Battles, list[dict[str, int]]]:
    bt = ref["battles"]
    battles = Battles(tuple(bt["models"]), bt["a"], bt["b"], [CODE[w] for w in bt["winner"]])
    meta = [dict(zip(STYLE_ELEMENTS, c)) for c in bt["counts"]]
    return battles, meta


def _meta(counts: Any) -> dict[str, Any]:
    """A full conv_metadata object with the counts split over kinds (they are summed)."""
    ta, ha, la, ba, tb, hb, lb, bb = (int(c) for c in counts)
    return {
        "sum_assistant_a_tokens": ta,
        "sum_assistant_b_tokens": tb,
        "header_count_a": {"h1": 0, "h2": ha, "h3": 0, "h4": 0, "h5": 0, "h6": 0},
        "header_count_b": {"h1": hb, "h2": 0, "h3": 0, "h4": 0, "h5": 0, "h6": 0},
        "list_count_a": {"ordered": la // 2, "unordered": la - la // 2},
        "list_count_b": {"ordered": lb, "unordered": 0},
        "bold_count_a": {"**": ba, "__": 0},
        "bold_count_b": {"**": 0, "__": bb},
        "sum_user_tokens": 12,
    }


def test_optimum_equals_scipy_on_fastchats_written_out_objective(stored, ref):
    battles, meta = stored
    counts = np.array(ref["battles"]["counts"], dtype=float)
    # FastChat preprocess_for_style: (a - b) / (a + b + 1), standardised (population std).
    ratio = (counts[:, :4] - counts[:, 4:]) / (counts[:, :4] + counts[:, 4:] + 1)
    x = (ratio - ratio.mean(0)) / ratio.std(0)
    y = np.array(
        [{"model_a": 1.0, "model_b": 0.0, "tie": 0.5}[w] for w in ref["battles"]["winner"]]
    )
    a, b = np.array(ref["battles"]["a"]), np.array(ref["battles"]["b"])
    m, alpha, reg = 8, math.log(10.0), 0.5

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        z = alpha * (theta[a] - theta[b]) + x @ theta[m:]
        p = expit(z)
        value = -(y * np.log(p) + (1 - y) * np.log(1 - p)).sum() + reg / 2 * theta @ theta
        e = p - y
        grad = reg * theta
        np.add.at(grad, a, alpha * e)
        np.add.at(grad, b, -alpha * e)
        grad[m:] += x.T @ e
        return value, grad

    opt = minimize(
        loss,
        np.zeros(m + 4),
        jac=True,
        method="L-BFGS-B",
        options={"gtol": 1e-12, "ftol": 0.0, "maxiter": 10_000},
    )
    result = bradley_terry_style(battles, meta, ci="none")
    assert result.ratings.rating == pytest.approx(400 * opt.x[:m] + 1000, abs=1e-4)
    assert result.coefficients == pytest.approx(opt.x[m:], abs=1e-7)
    # and FastChat's own compute_style_control (L-BFGS, tol 1e-6) on the same battles
    fc = ref["fastchat_compute_style_control"]
    ours = dict(zip(result.ratings.models, result.ratings.rating))
    for name, value in fc["ratings"].items():
        assert ours[name] == pytest.approx(value, abs=0.01)
    assert result.coefficients == pytest.approx(fc["coeffs"], abs=1e-4)


@pytest.mark.parametrize("key", ["arena_rank_sandwich_reg1", "arena_rank_sandwich_reg0.01"])
def test_arena_rank_contextual_bradley_terry(stored, ref, key):
    battles, meta = stored
    ar = ref[key]
    n = len(battles)
    idx = [battles.models.index(c) for c in ar["competitors"]]
    # arena-rank: mean loss + reg/2·|β|², ratings free (centred) = ridge n·reg on β only
    like = bradley_terry_style(
        battles, meta, ridge=ar["reg"] * n, ratings_ridge=False, bread="likelihood"
    )
    assert like.ratings.rating[idx] == pytest.approx(ar["ratings"], abs=0.02)
    assert like.coefficients == pytest.approx(ar["coeffs"], abs=1e-4)
    assert like.ratings.lower[idx] == pytest.approx(ar["rating_lower"], abs=0.1)
    assert like.ratings.upper[idx] == pytest.approx(ar["rating_upper"], abs=0.1)
    # The default bread is the Hessian of the penalised objective: narrower intervals,
    # the more so the stronger the ridge (measured: up to 21 points at reg 1, 7.6 at 0.01).
    pen = bradley_terry_style(battles, meta, ridge=ar["reg"] * n, ratings_ridge=False)
    width_pen = pen.ratings.upper - pen.ratings.lower
    width_like = like.ratings.upper - like.ratings.lower
    assert (width_pen < width_like).all()


def _simulate(seed: int, n: int, beta: np.ndarray, strength: np.ndarray):
    """Battles in which models 0 and 1 write long answers; side a's length helps it win."""
    rng = np.random.default_rng(seed)
    m = len(strength)
    a = rng.integers(0, m, n)
    b = (a + rng.integers(1, m, n)) % m
    verbose = np.array([1.8 if i < 2 else 1.0 for i in range(m)])
    counts = np.column_stack(
        [
            rng.poisson(250 * verbose[a]),
            rng.poisson(2, n),
            rng.poisson(4, n),
            rng.poisson(3, n),
            rng.poisson(250 * verbose[b]),
            rng.poisson(2, n),
            rng.poisson(4, n),
            rng.poisson(3, n),
        ]
    )
    ratio = (counts[:, :4] - counts[:, 4:]) / (counts[:, :4] + counts[:, 4:] + 1)
    x = (ratio - ratio.mean(0)) / ratio.std(0)
    p = expit(math.log(10) * (strength[a] - strength[b]) + x @ beta)
    outcome = np.where(rng.random(n) < p, 0, 1)
    battles = Battles(tuple(f"m{i}" for i in range(m)), a, b, outcome)
    return battles, [_meta(c) for c in counts]


def test_recovers_a_known_style_effect_in_simulation():
    beta = np.array([0.6, 0.15, -0.1, 0.25])
    strength = np.array([0.0, -0.1, 0.05, 0.1, -0.05, 0.0])  # log10 units
    battles, meta = _simulate(11, 30_000, beta, strength)
    result = bradley_terry_style(battles, meta, ridge=1e-6)
    se = (result.upper - result.lower) / (2 * 1.959963984540054)
    assert np.abs(result.coefficients - beta).max() < 4 * se.max()
    assert ((result.lower < beta) | (np.abs(result.coefficients - beta) < 3 * se)).all()
    truth = 400 * (strength - strength.mean())
    est = result.ratings.rating - result.ratings.rating.mean()
    assert np.abs(est - truth).max() < 15
    # the plain board credits the verbose models (0 and 1) with their style
    plain = bradley_terry(battles)
    plain_c = plain.rating - plain.rating.mean()
    assert (plain_c[:2] - truth[:2]).min() > 40
    assert (np.abs(est[:2] - truth[:2]) < 15).all()


def test_sandwich_and_bootstrap_intervals_agree():
    beta = np.array([0.5, 0.1, 0.0, 0.2])
    battles, meta = _simulate(5, 4000, beta, np.linspace(-0.2, 0.2, 5))
    sandwich = bradley_terry_style(battles, meta, ci="sandwich")
    boot = bradley_terry_style(battles, meta, ci="bootstrap", rounds=200, rng=3)
    ratio = (boot.upper - boot.lower) / (sandwich.upper - sandwich.lower)
    assert ((ratio > 0.75) & (ratio < 1.33)).all(), ratio
    r_ratio = (boot.ratings.upper - boot.ratings.lower) / (
        sandwich.ratings.upper - sandwich.ratings.lower
    )
    assert ((r_ratio > 0.75) & (r_ratio < 1.33)).all(), r_ratio


def test_anchor_shifts_ratings_and_intervals(stored):
    battles, meta = stored
    base = bradley_terry_style(battles, meta)
    anchored = bradley_terry_style(battles, meta, anchor=("model-3", 1200.0))
    shift = 1200.0 - base.ratings.rating[3]
    assert anchored.ratings.rating[3] == pytest.approx(1200.0)
    assert anchored.ratings.lower == pytest.approx(base.ratings.lower + shift)
    assert anchored.coefficients == pytest.approx(base.coefficients)


def test_missing_or_weighted_input_is_a_clear_error(stored):
    battles, meta = stored
    with pytest.raises(InputError, match="battle 2 has none"):
        bradley_terry_style(battles, [meta[0], None, *meta[2:]])
    bad = dict(meta[0], bold_count_a=-1)
    with pytest.raises(InputError, match="battle 1: conv_metadata.bold_count_a"):
        bradley_terry_style(battles, [bad, *meta[1:]])
    weighted = Battles(("x", "y"), [0, 0], [1, 1], [0, 1], weight=[3.0, 2.0])
    with pytest.raises(InputError, match="pair counts"):
        bradley_terry_style(weighted, [meta[0], meta[1]])


# ------------------------------------------------------------------ conv_metadata files


def _record(i: int, meta: Any) -> str:
    rec = {"model_a": "x", "model_b": "y", "winner": "model_a", "conv_metadata": meta}
    return json.dumps(rec) + "\n"


def test_reader_keeps_conv_metadata_and_writer_round_trips(stored):
    battles, meta = stored
    full = [_meta(np.array([m[k] for k in STYLE_ELEMENTS])) for m in meta[:50]]
    sub = battles.subset(np.arange(len(battles)) < 50)
    anony = [i % 2 == 0 for i in range(50)]
    full[3] = None
    buf = io.StringIO()
    assert write_battles(buf, sub, anony=anony, conv_metadata=full) == 50
    read = read_battles(io.StringIO(buf.getvalue()))
    assert read.conv_metadata is not None
    assert list(read.conv_metadata) == full
    assert read.anony.tolist() == anony
    assert read.battles.a.tolist() == [
        read.battles.models.index(sub.models[i]) for i in sub.a.tolist()
    ]


@pytest.mark.parametrize(
    ("meta", "message"),
    [
        ("long", "conv_metadata must be a JSON object"),
        ({"sum_assistant_a_tokens": 1}, "conv_metadata.sum_assistant_b_tokens is missing"),
        ("h7", "conv_metadata.header_count_a must be an integer >= 0 or an object"),
        ("neg", "conv_metadata.list_count_b.ordered must be an integer >= 0; got -2"),
        ("float", "conv_metadata.sum_assistant_a_tokens must be an integer >= 0; got 1.5"),
    ],
)
def test_malformed_conv_metadata_is_a_line_numbered_error(meta, message):
    good = _meta([10, 1, 2, 3, 20, 0, 1, 0])
    if meta == "h7":
        meta = dict(good, header_count_a={"h7": 1})
    elif meta == "neg":
        meta = dict(good, list_count_b={"ordered": -2, "unordered": 0})
    elif meta == "float":
        meta = dict(good, sum_assistant_a_tokens=1.5)
    text = _record(1, good) + "\n" + _record(3, meta)
    with pytest.raises(BattleFileError, match=f"^line 3: {message}"):
        read_battles(io.StringIO(text))
    skipped = read_battles(io.StringIO(text), skip_invalid=True)
    assert skipped.skipped == 1 and list(skipped.conv_metadata) == [good]


def test_battle_csv_conv_metadata_column():
    meta = _meta([10, 1, 2, 3, 20, 0, 1, 0])
    cell = json.dumps(meta).replace('"', '""')
    text = f'model_a,model_b,winner,conv_metadata\nx,y,tie,"{cell}"\nx,y,model_b,\n'
    read = read_battles(io.StringIO(text))
    assert list(read.conv_metadata) == [meta, None]
    bad = 'model_a,model_b,winner,conv_metadata\nx,y,tie,"{""x"": 1"\n'
    with pytest.raises(BattleFileError, match="^line 2: conv_metadata must be a JSON object"):
        read_battles(io.StringIO(bad))


def test_markdown_counts_by_hand():
    text = (
        "# Title\n"
        "## Part\n"
        "####### not a header\n"
        "#no space\n"
        "1. first\n"
        "  2. second\n"
        "- dash\n"
        "* star\n"
        "+ plus\n"
        "**bold** and **more** and __under__\n"
        "```\n# inside code\n- item\n**x**\n```\n"
    )
    counts = markdown_counts(text)
    assert counts["header_count"] == {"h1": 1, "h2": 1, "h3": 0, "h4": 0, "h5": 0, "h6": 0}
    assert counts["list_count"] == {"ordered": 2, "unordered": 3}
    assert counts["bold_count"] == {"**": 2, "__": 1}
    meta = conv_metadata_from_answers(answer_a=text, answer_b="plain", tokens_a=40, tokens_b=1)
    assert meta["sum_assistant_a_tokens"] == 40 and meta["sum_assistant_b_tokens"] == 1
    assert meta["list_count_a"] == {"ordered": 2, "unordered": 3}
    assert meta["bold_count_b"] == {"**": 0, "__": 0}
    with pytest.raises(InputError, match="tokens_a and tokens_b"):
        conv_metadata_from_answers(answer_a="", answer_b="", tokens_a=-1, tokens_b=0)


# ------------------------------------------------------------------ CLI (in-process)


def test_cli_style_control_json(tmp_path, stored, capsys):
    battles, meta = stored
    path = tmp_path / "style.jsonl"
    with path.open("w") as fh:
        write_battles(fh, battles, conv_metadata=meta)
    code = main(["rate", str(path), "--style-control", "--ci", "sandwich", "--output", "json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    doc = json.loads(out)
    assert doc["method"] == "bt-style" and doc["n_battles"] == len(battles)
    assert doc["style"]["features"] == ["length", "header", "list", "bold"]
    direct = bradley_terry_style(battles, meta)
    assert doc["style"]["coefficients"] == pytest.approx(list(direct.coefficients))
    lo, hi = doc["style"]["lower"], doc["style"]["upper"]
    assert all(lo[k] < c < hi[k] for k, c in enumerate(doc["style"]["coefficients"]))
    assert {r["model"] for r in doc["ratings"]} == set(battles.models)


def test_cli_style_control_without_conv_metadata_fails(tmp_path, capsys):
    path = tmp_path / "plain.jsonl"
    path.write_text('{"model_a": "x", "model_b": "y", "winner": "model_a"}\n')
    assert main(["rate", str(path), "--style-control"]) == 2
    err = capsys.readouterr().err
    assert "needs a conv_metadata object on every battle record; no battle has one" in err
    assert main(["rate", str(path), "--style-control", "--method", "elo"]) == 2
    assert "--style-control needs --method bt" in capsys.readouterr().err


def test_style_counts_given_as_an_array_fit_the_same(stored, ref):
    # a caller streaming battles passes the counts (n, 8), computed a block at a time
    battles, meta = stored
    counts = np.array(ref["battles"]["counts"], dtype=np.float64)
    assert counts.shape == (len(battles), 8)
    from_dicts = bradley_terry_style(battles, meta)
    from_counts = bradley_terry_style(battles, counts)
    assert np.array_equal(from_counts.ratings.rating, from_dicts.ratings.rating)
    assert np.array_equal(from_counts.coefficients, from_dicts.coefficients)
    assert np.array_equal(from_counts.ratings.lower, from_dicts.ratings.lower)
    bad = counts.copy()
    bad[3, 2] = -1
    with pytest.raises(InputError, match="non-negative"):
        bradley_terry_style(battles, bad)
    with pytest.raises(InputError, match="one entry per battle"):
        bradley_terry_style(battles, counts[:-1])
