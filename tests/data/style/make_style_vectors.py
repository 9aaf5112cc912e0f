"""Make ``style_vectors.json``: reference fits of the style-controlled Bradley-Terry model.

Run with a Python that has ``arena-rank`` 0.1.1 (it pins jax 0.8.1 and numpy 2.3.3, so a
separate virtualenv) and pandas, and with a FastChat checkout (lm-sys/FastChat, commit
0e6d3e4) whose ``fastchat/serve/monitor/rating_systems.py`` is imported by path::

    python -m venv /tmp/ar && /tmp/ar/bin/pip install arena-rank==0.1.1 tqdm
    /tmp/ar/bin/python tests/data/style/make_style_vectors.py /path/to/FastChat

The battles are simulated here (numpy seed 7) and stored in the output, so the test reads
the same battles. Nothing from Ludus is imported.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from arena_rank.models.contextual_bradley_terry import ContextualBradleyTerry
from arena_rank.utils.data_utils import ContextualPairDataset

OUT = Path(__file__).with_name("style_vectors.json")
ELEMENTS = [
    "sum_assistant_a_tokens",
    "header_count_a",
    "list_count_a",
    "bold_count_a",
    "sum_assistant_b_tokens",
    "header_count_b",
    "list_count_b",
    "bold_count_b",
]


def simulate() -> dict:
    rng = np.random.default_rng(7)
    m, n = 8, 1500
    names = [f"model-{i}" for i in range(m)]
    strength = rng.normal(0.0, 0.3, m)
    a = rng.integers(0, m, n)
    b = (a + rng.integers(1, m, n)) % m
    counts = np.column_stack(
        [
            rng.poisson(300 + 60 * (a % 3)),
            rng.poisson(2, n),
            rng.poisson(4, n),
            rng.poisson(3, n),
            rng.poisson(300 + 60 * (b % 3)),
            rng.poisson(2, n),
            rng.poisson(4, n),
            rng.poisson(3, n),
        ]
    )
    ratio = (counts[:, :4] - counts[:, 4:]) / (counts[:, :4] + counts[:, 4:] + 1)
    z = np.log(10) * (strength[a] - strength[b]) + ratio @ np.array([2.0, 0.3, 0.1, 0.4])
    u = rng.random(n)
    p = 1 / (1 + np.exp(-z))
    winner = np.where(u < 0.1, "tie", np.where(u < 0.1 + 0.9 * p, "model_a", "model_b"))
    return {
        "models": names,
        "a": a.tolist(),
        "b": b.tolist(),
        "winner": winner.tolist(),
        "counts": counts.tolist(),
    }


def frame(data: dict) -> pd.DataFrame:
    names = data["models"]
    df = pd.DataFrame(
        {
            "model_a": [names[i] for i in data["a"]],
            "model_b": [names[i] for i in data["b"]],
            "winner": data["winner"],
        }
    )
    df["conv_metadata"] = [dict(zip(ELEMENTS, map(int, c))) for c in data["counts"]]
    counts = np.array(data["counts"], dtype=float)
    ratio = (counts[:, :4] - counts[:, 4:]) / (counts[:, :4] + counts[:, 4:] + 1)
    for k, name in enumerate(["length", "header", "list", "bold"]):
        df[name] = ratio[:, k]
    return df


def arena_rank(df: pd.DataFrame, reg: float, ci: str) -> dict:
    ds = ContextualPairDataset.from_pandas(
        df, feature_cols=["length", "header", "list", "bold"], reweighted=False
    )
    model = ContextualBradleyTerry(n_competitors=len(ds.competitors), n_features=4, reg=reg)
    out = model.compute_ratings_and_cis(ds, ci_method=ci)
    return {
        "competitors": list(ds.competitors),
        "ratings": np.asarray(out["ratings"]).tolist(),
        "coeffs": np.asarray(out["coeffs"]).tolist(),
        "rating_lower": np.asarray(out["rating_lower"]).tolist(),
        "rating_upper": np.asarray(out["rating_upper"]).tolist(),
        "reg": reg,
    }


def fastchat(df: pd.DataFrame, checkout: Path) -> dict:
    path = checkout / "fastchat/serve/monitor/rating_systems.py"
    spec = importlib.util.spec_from_file_location("fc_rating_systems", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    # scale_and_offset anchors mixtral-8x7b only when present; it is not.
    ratings, coefs = module.compute_style_control(df)
    return {"ratings": {k: float(v) for k, v in ratings.items()}, "coeffs": list(map(float, coefs))}


def main() -> None:
    data = simulate()
    df = frame(data)
    result = {
        "battles": data,
        "arena_rank_sandwich_reg1": arena_rank(df, 1.0, "sandwich"),
        "arena_rank_sandwich_reg0.01": arena_rank(df, 0.01, "sandwich"),
        "fastchat_compute_style_control": fastchat(df, Path(sys.argv[1])),
    }
    OUT.write_text(json.dumps(result, indent=None, separators=(",", ":")) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
