"""The style-controlled board (arena.services.style_board): its cost next to the plain board's,
and the coverage of its intervals.

Synthetic arenas from a known truth: models with Bradley-Terry strengths, answers whose style
counts (tokens, headers, lists, bold) are drawn per battle, two verbose models, and outcomes from
``P(a wins) = σ(ln 10 (s_a − s_b) + xᵀβ)`` with FastChat's standardised style differences ``x``.

1. Speed, same run: the plain board's fit (``bradley_terry`` with the board's profile
   intervals) against the style board's (``bradley_terry_style`` with the board's parameters,
   sandwich intervals) on the same battles, for growing numbers of battles.
2. Against arena-rank (``pip install -e '.[bench]'``): its ``ContextualBradleyTerry`` with
   sandwich intervals (dataset prepared from a pandas DataFrame, then fit + intervals) against
   ``bradley_terry_style`` on its objective (``ratings_ridge=False``, ``ridge = N·reg``,
   ``bread="likelihood"``) on the same battles, with the largest distance between the two.
3. Coverage: over simulated arenas, how often the board's 95% intervals hold the true
   coefficients and the true ratings (relative to the mean, the board's gauge).

Usage: ``python bench/bench_style_board.py [--arenas N] [--no-write]``; replaces the
``## Style-controlled board (bench_style_board.py)`` section of bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import django
import numpy as np
from scipy.special import expit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from _results import cpu_model, results_report  # noqa: E402 - bench/ is sys.path[0]

from ranking.battles import Battles  # noqa: E402
from ranking.bradley_terry import bradley_terry  # noqa: E402
from ranking.style import bradley_terry_style  # noqa: E402

SECTION = "## Style-controlled board (bench_style_board.py)"
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "arena.settings")
django.setup()  # only to read the two boards' parameters from the service, not copies of them

from arena.services.leaderboard import _method_registry  # noqa: E402
from arena.services.style_board import PARAMS as STYLE_PARAMS  # noqa: E402

#: The plain board's parameters (its profile-likelihood intervals), as the service runs it.
PLAIN_PARAMS: dict[str, Any] = dict(_method_registry()["bt"].params)
BETA = np.array([0.4, 0.15, -0.1, 0.2])


def arena(
    seed: int, n: int, strength: np.ndarray, *, ties: float = 0.1
) -> tuple[Battles, list[dict[str, int]]]:
    rng = np.random.default_rng(seed)
    k = len(strength)
    a = rng.integers(0, k, n)
    b = (a + rng.integers(1, k, n)) % k
    verbose = np.where(np.arange(k) < 2, 2, 1)
    tokens = rng.integers(50, 800, (n, 2)) * verbose[np.c_[a, b]]
    marks = rng.poisson(2.0, (n, 6))
    counts = np.c_[tokens[:, 0], marks[:, :3], tokens[:, 1], marks[:, 3:]].astype(float)
    ratio = (counts[:, :4] - counts[:, 4:]) / (counts[:, :4] + counts[:, 4:] + 1)
    x = (ratio - ratio.mean(0)) / ratio.std(0)
    p = expit(math.log(10) * (strength[a] - strength[b]) + x @ BETA)
    u = rng.random(n)
    outcome = np.where(u < ties, 2, np.where(rng.random(n) < p, 0, 1))
    keys = [
        f"{name}_{side}" if name != "sum_assistant" else f"sum_assistant_{side}_tokens"
        for side in ("a", "b")
        for name in ("sum_assistant", "header_count", "list_count", "bold_count")
    ]
    metas = [dict(zip(keys, (int(v) for v in row))) for row in counts]
    battles = Battles(tuple(f"m{i:02d}" for i in range(k)), a, b, outcome)
    return battles, metas


def timed(fn: Any, repeat: int = 3) -> float:
    best = math.inf
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def run_arena_rank(
    battles: Battles, metas: list[dict[str, int]], reg: float
) -> tuple[float, float, dict[str, Any]]:
    """Time arena-rank's contextual BT: (prepare, fit + sandwich, result)."""
    import pandas as pd
    from arena_rank.models.contextual_bradley_terry import ContextualBradleyTerry
    from arena_rank.utils.data_utils import ContextualPairDataset

    names = np.array(battles.models, dtype=object)
    counts = np.array(
        [[m[k] for k in sorted(m, key=ELEMENT_ORDER.index)] for m in metas], dtype=float
    )
    ratio = (counts[:, :4] - counts[:, 4:]) / (counts[:, :4] + counts[:, 4:] + 1)
    winner = np.array(["model_a", "model_b", "tie"], dtype=object)[battles.outcome]
    df = pd.DataFrame({"model_a": names[battles.a], "model_b": names[battles.b], "winner": winner})
    for k, name in enumerate(("length", "header", "list", "bold")):
        df[name] = ratio[:, k]
    t0 = time.perf_counter()
    ds = ContextualPairDataset.from_pandas(
        df, feature_cols=["length", "header", "list", "bold"], reweighted=False
    )
    t1 = time.perf_counter()
    model = ContextualBradleyTerry(n_competitors=len(ds.competitors), n_features=4, reg=reg)
    out = model.compute_ratings_and_cis(ds, ci_method="sandwich")
    t2 = time.perf_counter()
    return t1 - t0, t2 - t1, {"competitors": list(ds.competitors), **out}


#: The order of the eight counts in the simulated ``conv_metadata`` (a then b).
ELEMENT_ORDER = [
    f"{name}_{side}" if name != "sum_assistant" else f"sum_assistant_{side}_tokens"
    for side in ("a", "b")
    for name in ("sum_assistant", "header_count", "list_count", "bold_count")
]


def versus_arena_rank(sizes: tuple[int, ...]) -> list[tuple[Any, ...]]:
    """Same-run timing and distance against arena-rank; empty when it is not installed."""
    try:
        from importlib.metadata import version

        ar_version = version("arena-rank")
    except Exception:  # noqa: BLE001 - the bench extra is optional
        print("arena-rank not installed: pip install -e '.[bench]'")
        return []
    strength = np.linspace(-0.3, 0.3, 30)
    rows = []
    reg = 0.01
    run_arena_rank(*arena(2, 2_000, strength), reg)  # warm-up: JAX compiles on first use
    for n in sizes:
        battles, metas = arena(1, n, strength)
        best_prep = best_fit = math.inf
        for _ in range(3):
            prep, fit, ar = run_arena_rank(battles, metas, reg)
            best_prep, best_fit = min(best_prep, prep), min(best_fit, fit)
        params = dict(ridge=reg * n, ratings_ridge=False, bread="likelihood")
        ours_time = timed(lambda b=battles, m=metas: bradley_terry_style(b, m, **params))
        ours = bradley_terry_style(battles, metas, **params)
        idx = [battles.models.index(c) for c in ar["competitors"]]
        d_rating = float(np.max(np.abs(ours.ratings.rating[idx] - np.asarray(ar["ratings"]))))
        d_coef = float(np.max(np.abs(ours.coefficients - np.asarray(ar["coeffs"]))))
        d_bound = float(
            max(
                np.max(np.abs(ours.ratings.lower[idx] - np.asarray(ar["rating_lower"]))),
                np.max(np.abs(ours.ratings.upper[idx] - np.asarray(ar["rating_upper"]))),
            )
        )
        rows.append((n, ar_version, best_prep, best_fit, ours_time, d_rating, d_coef, d_bound))
        print(
            f"{n:>8} battles: arena-rank prep {best_prep:.2f} s + fit {best_fit:.2f} s, "
            f"Ludus {ours_time:.2f} s; max |Δ| rating {d_rating:.2g}, coef {d_coef:.2g}, "
            f"bound {d_bound:.2g}"
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--arenas", type=int, default=200)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    load_start = os.getloadavg()[0]
    started = dt.datetime.now(dt.UTC)
    strength = np.linspace(-0.3, 0.3, 30)

    speed = []
    for n in (10_000, 100_000, 300_000):
        battles, metas = arena(1, n, strength)
        plain = timed(lambda b=battles: bradley_terry(b, **PLAIN_PARAMS))
        style = timed(lambda b=battles, m=metas: bradley_terry_style(b, m, **STYLE_PARAMS))
        speed.append((n, plain, style))
        print(f"{n:>8} battles: plain bt {plain * 1000:.0f} ms, style {style * 1000:.0f} ms")

    versus = versus_arena_rank((10_000, 100_000, 300_000))

    small = np.array([0.0, -0.08, 0.04, 0.1, -0.06])
    wide = np.linspace(-0.25, 0.25, 20)
    coverage = []
    for label, truth_s, n, ties in (
        ("5 models, 800 battles, decisive", small, 800, 0.0),
        ("20 models, 4000 battles, decisive", wide, 4000, 0.0),
        ("20 models, 4000 battles, 10% ties drawn apart from the model", wide, 4000, 0.1),
    ):
        hits_b = np.zeros(4)
        hits_r = np.zeros(len(truth_s))
        widths = []
        truth = 400 * (truth_s - truth_s.mean())
        for rep in range(args.arenas):
            battles, metas = arena(10_000 + rep, n, truth_s, ties=ties)
            res = bradley_terry_style(battles, metas, **STYLE_PARAMS)
            hits_b += (res.lower <= BETA) & (res.upper >= BETA)
            lo = res.ratings.lower - STYLE_PARAMS["init"]
            hi = res.ratings.upper - STYLE_PARAMS["init"]
            hits_r += (lo <= truth) & (truth <= hi)
            widths.append(float(np.mean(hi - lo)))
        coverage.append(
            (
                label,
                hits_b / args.arenas,
                float(np.mean(hits_r / args.arenas)),
                float(np.min(hits_r / args.arenas)),
                float(np.mean(widths)),
            )
        )
        print(label, hits_b / args.arenas, hits_r / args.arenas)

    load_end = os.getloadavg()[0]
    lines = [
        SECTION,
        "",
        f"Machine: {os.cpu_count()} cores, CPU `{cpu_model()}`, "
        f"Python {platform.python_version()}, "
        f"numpy {np.__version__}, {started:%Y-%m-%d %H:%M} UTC; load average {load_start:.1f} at "
        f"start, {load_end:.1f} at end (the machine is shared).",
        "",
        "Speed, same run, 30 models, 10% ties; best of 3. Plain: the `bt` board's fit "
        "(profile intervals); style: the `bt_style` board's fit (sandwich intervals, ridge 0.5 "
        "on the coefficients), both from the same `Battles` (the style fit also builds the "
        "features from the `conv_metadata` dicts).",
        "",
        "| battles | plain `bt` | style `bt_style` | ratio |",
        "|---:|---:|---:|---:|",
        *[f"| {n:,} | {p * 1000:.0f} ms | {s * 1000:.0f} ms | {s / p:.1f}× |" for n, p, s in speed],
        "",
        *(
            [
                "Against arena-rank, same run, same battles (30 models, 10% ties): its "
                "`ContextualBradleyTerry` with sandwich intervals (`reg` 0.01, no reweighting; "
                "after one warm-up call, as JAX compiles on first use) against "
                "`bradley_terry_style` on the same objective (`ratings_ridge=False`, "
                '`ridge = N·reg`, `bread="likelihood"`), reading the `conv_metadata` dicts '
                "included; best of 3. Δ: the largest absolute difference over models (ratings "
                "and bounds in points) and over the four coefficients.",
                "",
                "| battles | arena-rank prepare (`from_pandas`) | arena-rank fit + sandwich "
                "| Ludus fit + sandwich | arena-rank total / Ludus | max Δ rating | max Δ coef "
                "| max Δ bound |",
                "|---:|---:|---:|---:|---:|---:|---:|---:|",
                *[
                    f"| {n:,} | {p:.2f} s | {f:.2f} s | {o:.2f} s | {(p + f) / o:.1f}× "
                    f"| {dr:.2g} | {dc:.2g} | {db:.2g} |"
                    for n, _v, p, f, o, dr, dc, db in versus
                ],
                f"(arena-rank {versus[0][1]})",
                "",
            ]
            if versus
            else ["arena-rank was not installed for this run.", ""]
        ),
        f"Coverage of the board's nominal 95% intervals over {args.arenas} simulated arenas "
        f"(seeds 10000+), β = {BETA.tolist()} (length, header, list, bold), ratings relative to "
        "their mean. Decisive arenas follow the model exactly; in the last row a tie is drawn "
        "with probability 0.1 whatever the answers, which the model (a tie counts ½) does not "
        "describe: β is then attenuated and its interval covers the generating β less often.",
        "",
        "| arenas | β length | β header | β list | β bold | ratings (mean, min over models) "
        "| mean rating width |",
        "|---|---:|---:|---:|---:|---:|---:|",
        *[
            f"| {label} | {b[0]:.1%} | {b[1]:.1%} | {b[2]:.1%} | {b[3]:.1%} "
            f"| {rm:.1%}, {rmin:.1%} | {w:.0f} pts |"
            for label, b, rm, rmin, w in coverage
        ],
    ]
    results_report(SECTION, "\n".join(lines) + "\n", write=not args.no_write)


if __name__ == "__main__":
    main()
