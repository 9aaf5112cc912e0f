"""Ratings benchmark: battle readers, Bradley-Terry (+ sandwich, bootstrap) and online Elo.

Synthetic battles from a known Bradley-Terry truth (200 models, 2,000,000 battles with
ties) are written as JSON Lines and as a pair-counts CSV, then every step is timed side by
side, in the same run, with the libraries a user would otherwise pick: lmarena's
``arena-rank``, ``evalica`` and ``choix`` (``pip install -e '.[bench]'``). A library that
is missing or fails gets a row saying so. Accuracy is reported against the truth (Spearman,
max rating error) and as each reference's distance from Ludus's exact optimum.

Usage: ``python bench/bench_ranking.py [--battles N] [--models M] [--no-write]``. Prints
the tables and replaces the ``## Ratings (bench_ranking.py)`` section of bench/RESULTS.md.

``--openskill`` runs only the OpenSkill comparison: ``_rate_battles`` (the scalar twins of
the package's two-player update) against ``_rate_battles_package`` (one ``model.rate`` call
per battle) on the same battles, every model, best of ``--repeat`` runs each (default 200
models, 200,000 battles with ``--battles 200000``); it checks that both give the same
numbers and replaces its own section of RESULTS.md.

``--blas`` runs only the BLAS thread comparison (issue 15): the library no longer limits
BLAS threads itself, so every BT variant and an α-Rank reduction are timed as the library
runs now and inside a caller's ``threadpoolctl.threadpool_limits(1, "blas")`` (what the
library did before), alternating in one process; it replaces its own section of RESULTS.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import math
import os
import platform
import sys
import tempfile
import time
import tracemalloc
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from _results import cpu_model, results_report  # noqa: E402 - bench/ is sys.path[0] when a script runs

from ranking.battle_files import read_battles  # noqa: E402
from ranking.battles import Battles  # noqa: E402
from ranking.bradley_terry import bradley_terry  # noqa: E402
from ranking.elo import elo  # noqa: E402

SECTION = "## Ratings (bench_ranking.py)"
OPENSKILL_SECTION = (
    "## OpenSkill: scalar twins vs the package's rate (bench_ranking.py --openskill)"
)
BLAS_SECTION = "## BLAS threads: library default vs a caller's limit (bench_ranking.py --blas)"
POINTS = 400.0 / math.log(10.0)
WINNERS = ("model_a", "model_b", "tie", "tie (bothbad)")


# ---------------------------------------------------------------------------- data


def synthesize(n_models: int, n_battles: int, seed: int) -> tuple[np.ndarray, Battles]:
    """Battles from a BT truth (θ ~ N(0, 1), natural units) with ties.

    P(tie) = p(1 - p), P(i wins) = p - P(tie)/2: the expected score is exactly p, so
    ties-as-half Bradley-Terry is consistent for θ. Half of the ties are 'tie (bothbad)'.
    """
    rng = np.random.default_rng(seed)
    theta = rng.normal(0.0, 1.0, n_models)
    a = rng.integers(0, n_models, n_battles)
    b = (a + rng.integers(1, n_models, n_battles)) % n_models
    p = 1.0 / (1.0 + np.exp(-(theta[a] - theta[b])))
    tie = p * (1.0 - p)
    u = rng.random(n_battles)
    outcome = np.where(u < p - tie / 2, 0, np.where(u < p + tie / 2, 2, 1))
    outcome = np.where((outcome == 2) & (rng.random(n_battles) < 0.5), 3, outcome)
    names = tuple(f"model-{k:03d}" for k in range(n_models))
    return theta, Battles(names, a, b, outcome, tstamp=1.7e9 + np.arange(n_battles) * 0.5)


def write_jsonl(path: Path, battles: Battles) -> None:
    import orjson

    names = np.array(battles.models, dtype=object)
    ma, mb = names[battles.a], names[battles.b]
    win = np.array(WINNERS, dtype=object)[battles.outcome]
    ts = battles.tstamp
    with open(path, "wb") as fh:
        step = 200_000
        for start in range(0, len(battles), step):
            stop = min(start + step, len(battles))
            fh.write(
                b"".join(
                    orjson.dumps(
                        {
                            "model_a": ma[k],
                            "model_b": mb[k],
                            "winner": win[k],
                            "tstamp": float(ts[k]),
                            "anony": True,
                        }
                    )
                    + b"\n"
                    for k in range(start, stop)
                )
            )


def write_pairs(path: Path, battles: Battles) -> None:
    wins, ties = battles.pair_counts()
    n = battles.n_models
    lines = ["model_a,model_b,wins_a,wins_b,ties"]
    for i in range(n):
        for j in range(i + 1, n):
            if wins[i, j] + wins[j, i] + ties[i, j] > 0:
                lines.append(
                    f"{battles.models[i]},{battles.models[j]},{int(wins[i, j])},"
                    f"{int(wins[j, i])},{int(ties[i, j])}"
                )
    path.write_text("\n".join(lines) + "\n")


# ---------------------------------------------------------------------------- helpers


class Timing(float):
    """Wall seconds (the float value) with the process CPU seconds of the same run."""

    cpu: float

    def __new__(cls, wall: float, cpu: float) -> Timing:
        obj = super().__new__(cls, wall)
        obj.cpu = cpu
        return obj


def timed(fn: Callable[[], Any], repeat: int = 1) -> tuple[Timing, Any]:
    """Best wall time of ``repeat`` runs (seconds, with its CPU time) and the last result."""
    best, out = Timing(math.inf, math.inf), None
    for _ in range(repeat):
        gc.collect()
        c0, t0 = time.process_time(), time.perf_counter()
        out = fn()
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        if wall < best:
            best = Timing(wall, cpu)
    return best, out


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    from scipy.stats import spearmanr

    return float(spearmanr(x, y).statistic)


def centred_points(theta: np.ndarray) -> np.ndarray:
    return POINTS * (theta - theta.mean()) + 1000.0


def fmt_s(seconds: float | None) -> str:
    if seconds is None or not math.isfinite(seconds):
        return "—"
    return f"{seconds * 1000:,.1f} ms" if seconds < 1 else f"{seconds:,.2f} s"


def fmt_t(t: Any) -> str:
    """Wall time, and the CPU time of the process when known: 'wall | cpu'."""
    cpu = getattr(t, "cpu", None)
    return f"{fmt_s(t)} | {fmt_s(cpu)}"


def version(dist: str) -> str:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as v

    try:
        return v(dist)
    except PackageNotFoundError:
        return "not installed"


# ---------------------------------------------------------------------------- references


def run_arena_rank(battles: Battles, with_ci: bool) -> dict[str, Any]:
    import pandas as pd
    from arena_rank.models.bradley_terry import BradleyTerry
    from arena_rank.utils.data_utils import PairDataset

    names = np.array(battles.models, dtype=object)
    df = pd.DataFrame(
        {
            "model_a": names[battles.a],
            "model_b": names[battles.b],
            "winner": np.array(WINNERS, dtype=object)[battles.outcome],
        }
    )
    t_prep, ds = timed(lambda: PairDataset.from_pandas(df))

    def fit() -> Any:
        model = BradleyTerry(n_competitors=len(ds.competitors))
        out = model.compute_ratings_and_cis(ds, significance_level=0.05, ci_method="sandwich")
        return {k: np.asarray(v) if k != "competitors" else v for k, v in out.items()}

    fit()  # JIT compilation
    t_fit, out = timed(fit, repeat=2)
    order = [list(out["competitors"]).index(m) for m in battles.models]
    return {
        "prep": t_prep,
        "fit": t_fit,
        "rating": out["ratings"][order],
        "lower": out["rating_lower"][order],
        "upper": out["rating_upper"][order],
    }


def run_evalica(battles: Battles, weighted: bool) -> dict[str, Any]:
    import evalica
    import pandas as pd

    names = np.array(battles.models, dtype=object)
    code = {
        0: evalica.Winner.X,
        1: evalica.Winner.Y,
        2: evalica.Winner.Draw,
        3: evalica.Winner.Draw,
    }
    if weighted:
        wins, ties = battles.pair_counts()
        i, j = np.nonzero(np.triu(wins + wins.T + ties > 0, 1))
        xs = np.concatenate([i, i, i])
        ys = np.concatenate([j, j, j])
        win = (
            [evalica.Winner.X] * len(i)
            + [evalica.Winner.Y] * len(i)
            + [evalica.Winner.Draw] * len(i)
        )
        weights = np.concatenate([wins[i, j], wins[j, i], ties[i, j]])
        xs_s, ys_s = pd.Series(names[xs]), pd.Series(names[ys])
    else:
        xs_s, ys_s = pd.Series(names[battles.a]), pd.Series(names[battles.b])
        table = np.array([code[k] for k in range(4)], dtype=object)
        win = list(table[battles.outcome])
        weights = None

    def fit() -> Any:
        return evalica.bradley_terry(xs_s, ys_s, win, weights=weights, tolerance=1e-10, limit=1000)

    t_fit, out = timed(fit)
    scores = out.scores.reindex(list(battles.models)).to_numpy()
    logs = np.log10(scores)
    return {
        "fit": t_fit,
        "rating": 400.0 * (logs - logs.mean()) + 1000.0,
        "iterations": getattr(out, "iterations", None),
    }


def run_evalica_elo(battles: Battles) -> dict[str, Any]:
    import evalica
    import pandas as pd

    names = np.array(battles.models, dtype=object)
    xs, ys = pd.Series(names[battles.a]), pd.Series(names[battles.b])
    table = np.array(
        [evalica.Winner.X, evalica.Winner.Y, evalica.Winner.Draw, evalica.Winner.Draw], dtype=object
    )
    win = list(table[battles.outcome])
    t, out = timed(lambda: evalica.elo(xs, ys, win, k=4.0))
    return {"fit": t, "rating": out.scores.reindex(list(battles.models)).to_numpy()}


def run_choix(battles: Battles) -> dict[str, Any]:
    import choix

    wins, ties = battles.pair_counts()
    comp = wins + 0.5 * ties
    t, params = timed(lambda: choix.ilsr_pairwise_dense(comp, alpha=0.0, tol=1e-12, max_iter=1000))
    return {"fit": t, "rating": centred_points(np.asarray(params))}


# ---------------------------------------------------------------------------- BLAS threads


def blas_comparison(agg: Battles, theta: np.ndarray, repeat: int) -> list[str]:
    """Table rows: each case timed ``repeat`` times without and with a one-thread BLAS limit.

    The two variants alternate (which goes first alternates too), so both see the same load.
    """
    from threadpoolctl import threadpool_limits

    from ranking.alpharank import alpharank_game

    p = 1.0 / (1.0 + np.exp(-(theta[:, None] - theta[None, :])))
    cases: list[tuple[str, Callable[[], Any]]] = [
        ("BT fit", lambda: bradley_terry(agg)),
        ("BT + sandwich CI", lambda: bradley_terry(agg, ci="sandwich")),
        ("BT + profile CI", lambda: bradley_terry(agg, ci="profile")),
        ("BT + 100-round bootstrap CI", lambda: bradley_terry(agg, ci="bootstrap", rng=0)),
        (f"α-Rank, {len(theta)}-model win-rate table, α=100", lambda: alpharank_game(p)),
    ]
    rows = []
    for label, fn in cases:
        fn()  # warm-up (imports, caches)
        free: list[float] = []
        limited: list[float] = []
        for k in range(repeat):
            for variant in (0, 1) if k % 2 == 0 else (1, 0):
                if variant == 0:
                    free.append(timed(fn)[0])
                else:
                    with threadpool_limits(limits=1, user_api="blas"):
                        limited.append(timed(fn)[0])
        med_free, med_lim = float(np.median(free)), float(np.median(limited))
        rows.append(
            f"| {label} | {fmt_s(med_free)} | {fmt_s(min(free))} | {fmt_s(med_lim)} | "
            f"{fmt_s(min(limited))} | {med_free / med_lim:.2f} |"
        )
        print(rows[-1], file=sys.stderr)
    return rows


def blas_main(args: argparse.Namespace) -> None:
    from threadpoolctl import threadpool_info

    load_start = f"{os.getloadavg()[0]:.1f}"
    theta, battles = synthesize(args.models, args.battles, args.seed)
    wins, ties = battles.pair_counts()
    i, j = np.nonzero(np.triu(wins + wins.T + ties > 0, 1))
    agg = Battles(
        battles.models,
        np.concatenate([i, i, i]),
        np.concatenate([j, j, j]),
        np.repeat(np.array([0, 1, 2], dtype=np.int8), len(i)),
        weight=np.concatenate([wins[i, j], wins[j, i], ties[i, j]]),
    )
    rows = blas_comparison(agg, theta, args.repeat)
    blas = ", ".join(
        f"{x['internal_api']} {x['version']} ({x['num_threads']} threads)"
        for x in threadpool_info()
        if x["user_api"] == "blas"
    )
    lines = [
        BLAS_SECTION,
        "",
        f"Machine: {machine()}; BLAS: {blas}; load average at start {load_start}, at end "
        f"{os.getloadavg()[0]:.1f} (`uptime`; other engineers' jobs share the 2 cores).",
        "",
        f"Data: {args.models} models, {args.battles:,} battles from the BT truth above, "
        "aggregated to pair counts. Each case runs "
        f"{args.repeat} times as the library runs now (no thread limit: BLAS uses its "
        "default threads) and "
        f"{args.repeat} times inside `threadpoolctl.threadpool_limits(1, 'blas')` (what "
        "`bradley_terry` and the α-Rank reduction did inside the call before issue 15), "
        "alternating in one process.",
        "",
        "| case | default: median | default: best | 1-thread limit: median "
        "| 1-thread limit: best | median ratio |",
        "|---|---:|---:|---:|---:|---:|",
        *rows,
        "",
        "A median ratio above 1 means the library's default (BLAS threads left alone) is that "
        "many times slower than under a one-thread limit. The library no longer sets the "
        "limit itself (a process-wide change made from inside a call, which other threads of "
        "a threaded worker would share): `python -m ranking` sets it in `ranking/__main__.py`, "
        "as the owner of its process, and a service calling the library sets it for its own "
        "processes (`threadpoolctl.threadpool_limits(1, 'blas')` at start, or "
        "`OPENBLAS_NUM_THREADS=1`).",
        "",
    ]
    text = "\n".join(lines)
    results_report(BLAS_SECTION, text, write=not args.no_write)


def openskill_main(args: argparse.Namespace) -> None:
    """Time the twins and the package path on the same battles, in one run."""
    from ranking.openskill import (
        OPENSKILL_MODELS,
        TWINNED_OPENSKILL,
        _engine_kwargs,
        _rate_battles,
        _rate_battles_package,
    )

    load_start = f"{os.getloadavg()[0]:.1f}"
    _, battles = synthesize(args.models, args.battles, args.seed)
    a, b, o = battles.a.tolist(), battles.b.tolist(), battles.outcome.tolist()
    n = args.models
    repeat = max(1, min(args.repeat, 3))
    rows = []
    pl_pkg = pl_twin = math.nan
    for name in OPENSKILL_MODELS:
        model, kw = _engine_kwargs(
            name, 25.0, 25.0 / 3.0, 25.0 / 6.0, 1e-4, 25.0 / 300.0, 0.1, 4, False
        )
        out: dict[str, tuple[list[float], list[float]]] = {}

        def twin() -> None:
            out["twin"] = ([25.0] * n, [25.0 / 3.0] * n)
            _rate_battles(model, kw, *out["twin"], a, b, o)

        def package() -> None:
            out["package"] = ([25.0] * n, [25.0 / 3.0] * n)
            _rate_battles_package(OPENSKILL_MODELS[model](**kw), *out["package"], a, b, o)

        t_twin, _ = timed(twin, repeat=repeat)
        t_pkg, _ = timed(package, repeat=repeat)
        if name == "plackett-luce":
            pl_pkg, pl_twin = t_pkg / len(a) * 1e6, t_twin / len(a) * 1e6
        same = out["twin"] == out["package"]
        rows.append(
            f"| {name} | {fmt_t(t_pkg)} | {t_pkg / len(a) * 1e6:.1f} µs | {fmt_t(t_twin)} | "
            f"{t_twin / len(a) * 1e6:.2f} µs | {t_pkg / t_twin:.1f}× | "
            f"{'yes' if same else 'NO'} |"
        )
        print(rows[-1], file=sys.stderr)
    lines = [
        OPENSKILL_SECTION,
        "",
        f"Machine: {machine()}; openskill {version('openskill')} (twinned: "
        f"{TWINNED_OPENSKILL}); load average at start {load_start}, at end "
        f"{os.getloadavg()[0]:.1f} (`uptime`; other engineers' jobs share the 2 cores).",
        "",
        f"Data: {n} models, {len(a):,} battles from the BT truth above (with both kinds of "
        "tie), rated from the default prior with the default parameters (τ = 25/300, "
        "window 4, no σ limit). Package: `_rate_battles_package`, one `model.rate` call per "
        "battle (what `openskill_rate` did before). Twin: `_rate_battles`, the scalar "
        f"two-player update. Best of {repeat} runs each, same process, same battles.",
        "",
        "| model | package: wall | package: CPU | per battle | twin: wall | twin: CPU "
        "| per battle | speed-up (wall) | identical μ and σ |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
        *rows,
        "",
        "The twins repeat the package's float operations in its order for two teams of one "
        "player (τ dynamics, σ limit, default γ, the tie's μ averaging, which is a no-op for "
        "two players), so μ and σ are identical, not just close; "
        "`tests/ranking/test_openskill.py` checks equality to the last bit on random "
        "battles (all models, outcomes, τ, σ limit, windows, wide initial states). "
        f"At the package's {pl_pkg:.1f} µs per battle a 10M-battle Plackett-Luce board "
        f"spends {pl_pkg * 10:.0f} s in the rating loop; at the twin's {pl_twin:.2f} µs, "
        f"{pl_twin * 10:.0f} s.",
        "",
    ]
    results_report(OPENSKILL_SECTION, "\n".join(lines), write=not args.no_write)


# ---------------------------------------------------------------------------- main


def machine() -> str:
    model = cpu_model()
    return (
        f"{os.cpu_count()} cores, CPU `{model}` (platform.processor: "
        f"`{platform.processor() or '?'}`), Python {platform.python_version()}, "
        f"numpy {np.__version__}, {dt.datetime.now():%Y-%m-%d %H:%M}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--battles", type=int, default=2_000_000)
    parser.add_argument("--models", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-write", action="store_true", help="do not touch RESULTS.md")
    parser.add_argument("--blas", action="store_true", help="only the BLAS thread comparison")
    parser.add_argument("--repeat", type=int, default=7, help="runs per variant (--blas)")
    parser.add_argument(
        "--openskill", action="store_true", help="only the OpenSkill twin vs package comparison"
    )
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    if args.blas:
        blas_main(args)
        return
    if args.openskill:
        openskill_main(args)
        return

    load_start = f"{os.getloadavg()[0]:.1f}"
    theta, truth_battles = synthesize(args.models, args.battles, args.seed)
    truth = centred_points(theta)
    tmp = Path(tempfile.mkdtemp(prefix="ludus-bench-"))
    jsonl, pairs_csv = tmp / "battles.jsonl", tmp / "pairs.csv"
    t0 = time.perf_counter()
    write_jsonl(jsonl, truth_battles)
    write_pairs(pairs_csv, truth_battles)
    print(
        f"wrote {jsonl.stat().st_size / 2**20:.0f} MiB JSONL and "
        f"{pairs_csv.stat().st_size / 2**20:.1f} MiB pair counts in "
        f"{time.perf_counter() - t0:.1f} s",
        file=sys.stderr,
    )

    steps: list[tuple[str, str, float | None, str]] = []
    t_read, read = timed(lambda: read_battles(jsonl))
    battles = read.battles
    t_agg, _ = timed(lambda: battles.pair_counts(), repeat=3)
    big = f"{args.battles / 1e6:g}M"
    steps.append((f"read {big}-line JSONL", "Ludus `read_battles`", t_read, "< 3 s with aggregate"))
    steps.append(("aggregate to pair counts", "Ludus `Battles.pair_counts`", t_agg, ""))
    t_pairs, pairs_read = timed(lambda: read_battles(pairs_csv), repeat=3)
    agg = pairs_read.battles
    steps.append(
        (f"read pair-counts CSV ({pairs_read.n_rows:,} rows)", "Ludus `read_battles`", t_pairs, "")
    )
    t_fit, fit = timed(lambda: bradley_terry(agg), repeat=5)
    steps.append(("BT fit (aggregated)", "Ludus Newton", t_fit, ""))
    t_sw, sw = timed(lambda: bradley_terry(agg, ci="sandwich"), repeat=5)
    steps.append(("BT fit + sandwich CI (aggregated)", "Ludus", t_sw, "< 0.1 s"))
    t_sw_raw, _ = timed(lambda: bradley_terry(battles, ci="sandwich"), repeat=3)
    steps.append(
        (f"BT fit + sandwich CI from {big} battles (aggregation included)", "Ludus", t_sw_raw, "")
    )
    t_boot, boot = timed(lambda: bradley_terry(agg, ci="bootstrap", rounds=100, rng=0))
    steps.append(("BT + 100-round bootstrap CI (aggregated)", "Ludus", t_boot, "< 2 s"))
    t_elo, ludus_elo = timed(lambda: elo(battles))
    steps.append((f"online Elo, {big} battles in tstamp order", "Ludus", t_elo, ""))

    # Memory of 2M battles: the container itself, and the peak while reading.
    container = sum(x.nbytes for x in (battles.a, battles.b, battles.outcome, battles.tstamp))
    tracemalloc.start()
    read_battles(jsonl).battles.pair_counts()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    acc: list[tuple[str, np.ndarray | None, str]] = [("Ludus BT (exact optimum)", fit.rating, "")]
    refs: dict[str, dict[str, Any] | str] = {}
    for label, call in [
        ("arena-rank BT + sandwich", lambda: run_arena_rank(battles, True)),
        ("evalica BT (battle rows)", lambda: run_evalica(battles, False)),
        ("evalica BT (pair counts as weights)", lambda: run_evalica(battles, True)),
        ("choix ilsr_pairwise_dense (pair counts)", lambda: run_choix(battles)),
        ("evalica online Elo", lambda: run_evalica_elo(battles)),
    ]:
        try:
            refs[label] = call()
        except Exception as exc:  # a reference that is missing or fails gets a row
            refs[label] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:100]}"
            print(f"{label}: {refs[label]}", file=sys.stderr)

    rows = [f"| {s} | {who} | {fmt_t(t)} | {target} |" for s, who, t, target in steps]
    ar = refs["arena-rank BT + sandwich"]
    if isinstance(ar, dict):
        rows.append(
            f"| BT fit + sandwich CI (dataset prepared) | arena-rank {version('arena-rank')}"
            f" | {fmt_t(ar['fit'])} | Ludus ≥ 10× faster: {ar['fit'] / t_sw:,.0f}× (CPU "
            f"{ar['fit'].cpu / t_sw.cpu:,.0f}×) |"
        )
        rows.append(
            f"| prepare dataset from a {big}-row DataFrame | arena-rank `PairDataset.from_pandas`"
            f" | {fmt_t(ar['prep'])} | (Ludus: read+aggregate above) |"
        )
        rows.append(
            f"| prepare + fit + sandwich | arena-rank | {fmt_s(ar['prep'] + ar['fit'])} | "
            f"{fmt_s(ar['prep'].cpu + ar['fit'].cpu)} "
            f"| Ludus aggregate + fit + sandwich: {fmt_s(t_sw_raw)}, "
            f"{(ar['prep'] + ar['fit']) / t_sw_raw:,.0f}× |"
        )
        acc.append((f"arena-rank {version('arena-rank')} BT", ar["rating"], ""))
        ci_gap = max(np.abs(ar["lower"] - sw.lower).max(), np.abs(ar["upper"] - sw.upper).max())
    else:
        rows.append(f"| BT fit + sandwich CI | arena-rank | — | {ar} |")
        ci_gap = None
    for label in (
        "evalica BT (battle rows)",
        "evalica BT (pair counts as weights)",
        "choix ilsr_pairwise_dense (pair counts)",
    ):
        ref = refs[label]
        lib = label.split()[0]
        if isinstance(ref, dict):
            note = (
                f"Ludus BT fit is {ref['fit'] / t_fit:,.1f}× as fast"
                if "battle rows" not in label
                else f"Ludus aggregate + fit is {ref['fit'] / (t_agg + t_fit):,.1f}× as fast"
            )
            rows.append(f"| {label} | {lib} {version(lib)} | {fmt_t(ref['fit'])} | {note} |")
            acc.append((f"{label}", ref["rating"], ""))
        else:
            rows.append(f"| {label} | {lib} | — | — | {ref} |")
    ev_elo = refs["evalica online Elo"]
    if isinstance(ev_elo, dict):
        gap = np.abs(ev_elo["rating"] - ludus_elo.rating).max()
        rows.append(
            f"| online Elo, {big} battles | evalica {version('evalica')} | "
            f"{fmt_t(ev_elo['fit'])} | max abs diff vs Ludus {gap:.1e} points |"
        )
    else:
        rows.append(f"| online Elo | evalica | — | — | {ev_elo} |")

    acc_rows = []
    for label, rating, _ in acc:
        if rating is None:
            continue
        acc_rows.append(
            f"| {label} | {spearman(rating, truth):.5f} | "
            f"{np.abs(rating - truth).max():.2f} | {np.abs(rating - fit.rating).max():.2e} |"
        )
    acc_rows.append(
        f"| Ludus online Elo (K=4) | {spearman(ludus_elo.rating, truth):.5f} | "
        f"{np.abs(ludus_elo.rating - ludus_elo.rating.mean() + 1000 - truth).max():.2f}"
        " | (different estimator) |"
    )
    boot_width = float(np.median(boot.upper - boot.lower))
    sw_width = float(np.median(sw.upper - sw.lower))
    covered = float(np.mean((sw.lower <= truth) & (truth <= sw.upper)))

    lines = [
        SECTION,
        "",
        f"Machine: {machine()}; load average at start {load_start}, at end "
        f"{os.getloadavg()[0]:.1f} (other jobs share the 2 cores: the CPU column is "
        "this process's CPU time, less sensitive to that than wall time). "
        "Ludus's BT leaves BLAS threads as the caller set them (see the BLAS threads "
        "section, `--blas`).",
        "",
        f"Data: {args.models} models, θ ~ N(0, 1) (natural units; ×{POINTS:.1f} points), "
        f"{args.battles:,} battles with ties (P(tie) = p(1 − p), half of them 'tie (bothbad)'),"
        f" written as JSON Lines ({jsonl.stat().st_size / 2**20:.0f} MiB, with `tstamp` and "
        f"`anony`) and as a pair-counts CSV ({pairs_read.n_rows:,} pairs). Times are the best "
        "of up to 5 runs (1 for reading JSONL, bootstrap and Elo); reference libraries run in "
        "the same process on the same data, arena-rank after one warm-up call (JIT).",
        "",
        "| step | implementation | wall | CPU | target / note |",
        "|---|---|---:|---:|---|",
        *rows,
        "",
        f"Read + aggregate {big}-line JSONL: **{fmt_s(t_read + t_agg)}** wall, "
        f"{fmt_s(t_read.cpu + t_agg.cpu)} CPU (target < 3 s). "
        f"Memory: the {big}-battle container holds {container / 2**20:.0f} MiB "
        f"(int32 sides, int8 outcome, float64 tstamp); tracemalloc peak while reading and "
        f"aggregating the JSONL: {peak / 2**20:.0f} MiB (target: well under 1 GiB).",
        "",
        "Accuracy against the truth and distance from Ludus's exact optimum (points):",
        "",
        "| ratings | Spearman vs truth | max abs error vs truth | max abs distance from Ludus |",
        "|---|---:|---:|---:|",
        *acc_rows,
        "",
        f"Sandwich 95 % intervals cover the true rating for {covered:.1%} of models; median "
        f"width {sw_width:.1f} points (sandwich) vs {boot_width:.1f} (bootstrap)."
        + (
            f" arena-rank's sandwich bounds differ from Ludus's by at most {ci_gap:.2e} points."
            if ci_gap is not None
            else ""
        ),
        "",
        "arena-rank's bootstrap is not timed: it forks a multiprocessing pool of JAX "
        "workers per call, which this shared 2-core machine cannot run fairly.",
        "",
    ]
    results_report(SECTION, "\n".join(lines), write=not args.no_write)


if __name__ == "__main__":
    main()
