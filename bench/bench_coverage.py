"""Coverage of Bradley-Terry intervals by number of battles, against a known truth.

Each simulated arena has 20 established models that play random pairings until each has
about 400 battles, plus newcomers (``--newcomers`` per group) with exactly 1, 3, 10, 30 and
300 battles against random established models. True strengths are θ ~ N(0, 1) (natural
units, ×173.7 rating points); outcomes are decisive, P(i beats j) = σ(θ_i - θ_j). Every
interval method then rates the same battles at nominal 95 %, and an interval "covers"
when it holds the truth expressed in the gauge that method reports:

* sandwich and bootstrap (today's methods): the rating relative to the mean rating of
  the whole component, so the truth is θ - mean(θ);
* profile: the rating relative to the mean of the component's core (its largest strongly
  connected group, the whole component whenever the MLE is finite), so the truth is
  θ - mean over that arena's core of θ.

The ``pair_frequency`` variants reweight battles inversely to their pair's frequency
(same truth, same gauges). The script also times profile against sandwich intervals on
200 models / 1,000,000 battles given as pair counts, in the same run.

Usage: ``python bench/bench_coverage.py [--arenas N] [--newcomers K] [--seed S]
[--no-write]``. Prints the tables and replaces the ``## Interval coverage
(bench_coverage.py)`` section of bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import os
import platform
import sys
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from _results import cpu_model, results_report  # noqa: E402 - bench/ is sys.path[0] when a script runs

from ranking._bt_core import pairs_from_battles  # noqa: E402
from ranking._profile import reference_sets  # noqa: E402
from ranking.battles import Battles  # noqa: E402
from ranking.bradley_terry import bradley_terry  # noqa: E402
from ranking.types import A_WINS, B_WINS  # noqa: E402

SECTION = "## Interval coverage (bench_coverage.py)"
POINTS = 400.0 / math.log(10.0)
GROUPS = (1, 3, 10, 30, 300)
N_ESTABLISHED = 20
ESTABLISHED_BATTLES = 400
METHODS: tuple[tuple[str, dict[str, object]], ...] = (
    ("sandwich", {"ci": "sandwich"}),
    ("bootstrap (100 rounds)", {"ci": "bootstrap", "rounds": 100}),
    ("profile", {"ci": "profile"}),
    ("sandwich, pair_frequency", {"ci": "sandwich", "reweight": "pair_frequency"}),
    ("profile, pair_frequency", {"ci": "profile", "reweight": "pair_frequency"}),
)


def arena(rng: np.random.Generator, newcomers: int) -> tuple[np.ndarray, np.ndarray, Battles]:
    """One simulated arena: the true θ, each model's group label (0 = established), battles."""
    n_new = newcomers * len(GROUPS)
    m = N_ESTABLISHED + n_new
    theta = rng.normal(0.0, 1.0, m)
    group = np.concatenate([np.zeros(N_ESTABLISHED, dtype=int), np.repeat(GROUPS, newcomers)])
    n_est = N_ESTABLISHED * ESTABLISHED_BATTLES // 2
    a = rng.integers(0, N_ESTABLISHED, n_est)
    b = (a + rng.integers(1, N_ESTABLISHED, n_est)) % N_ESTABLISHED
    new_a = np.repeat(np.arange(N_ESTABLISHED, m), group[N_ESTABLISHED:])
    new_b = rng.integers(0, N_ESTABLISHED, len(new_a))
    a, b = np.concatenate([a, new_a]), np.concatenate([b, new_b])
    swap = rng.random(len(a)) < 0.5  # sides at random
    a, b = np.where(swap, b, a), np.where(swap, a, b)
    p = 1.0 / (1.0 + np.exp(-(theta[a] - theta[b])))
    outcome = np.where(rng.random(len(a)) < p, A_WINS, B_WINS)
    names = tuple(f"m{k}" for k in range(m))
    return theta, group, Battles(names, a.astype(np.int32), b.astype(np.int32), outcome)


def truth_points(theta: np.ndarray, battles: Battles, profile: bool) -> np.ndarray:
    """The true ratings in the gauge a method reports (points, centred on 1000)."""
    pairs = pairs_from_battles(battles)
    if profile:
        reference, _ = reference_sets(pairs, anchor=None, names=battles.models)
    else:
        reference = np.ones(len(theta), dtype=bool)
    comp = pairs.component
    mean = np.bincount(comp[reference], theta[reference], comp.max() + 1) / np.bincount(
        comp[reference], minlength=comp.max() + 1
    )
    return POINTS * (theta - mean[comp]) + 1000.0


def coverage(n_arenas: int, newcomers: int, seed: int) -> tuple[list[str], dict[str, float]]:
    rng = np.random.default_rng(seed)
    labels = [label for label, _ in METHODS]
    keys = [*GROUPS, 0]
    hits = {lab: {g: 0 for g in keys} for lab in labels}
    counts = {g: 0 for g in keys}
    widths: dict[str, dict[int, list[float]]] = {lab: {g: [] for g in keys} for lab in labels}
    open_sided = {lab: {g: 0 for g in keys} for lab in labels}
    seconds = dict.fromkeys(labels, 0.0)
    for r in range(n_arenas):
        theta, group, battles = arena(rng, newcomers)
        for g in keys:
            counts[g] += int((group == g).sum())
        for label, kwargs in METHODS:
            t0 = time.perf_counter()
            result = bradley_terry(battles, rng=seed + r, **kwargs)  # type: ignore[arg-type]
            seconds[label] += time.perf_counter() - t0
            truth = truth_points(theta, battles, kwargs["ci"] == "profile")
            assert result.lower is not None and result.upper is not None
            inside = (result.lower <= truth) & (truth <= result.upper)
            width = result.upper - result.lower
            for g in keys:
                sel = group == g
                hits[label][g] += int(inside[sel].sum())
                finite = np.isfinite(width[sel])
                widths[label][g].extend(width[sel][finite].tolist())
                open_sided[label][g] += int((~finite).sum())
    head = (
        "| method | "
        + " | ".join(f"{g} battle{'s' if g > 1 else ''}" for g in GROUPS)
        + f" | established (~{ESTABLISHED_BATTLES}) |"
    )
    rows = [head, "|---|" + "---:|" * (len(keys))]
    for label in labels:
        cells = []
        for g in keys:
            w = widths[label][g]
            mean_w = f"{np.mean(w):.0f}" if w else "—"
            share = open_sided[label][g] / counts[g]
            cells.append(
                f"**{hits[label][g] / counts[g]:.1%}** (w {mean_w}"
                + (f", {share:.0%} open" if share else "")
                + ")"
            )
        rows.append(f"| {label} | " + " | ".join(cells) + " |")
    return rows, {lab: seconds[lab] / n_arenas for lab in labels}


def timing(seed: int) -> list[str]:
    """Profile vs sandwich on 200 models, 1,000,000 battles as pair counts (same data)."""
    rng = np.random.default_rng(seed)
    m, n_battles = 200, 1_000_000
    theta = rng.normal(0.0, 1.0, m)
    i, j = np.triu_indices(m, k=1)
    n = rng.multinomial(n_battles, np.full(len(i), 1.0 / len(i)))
    wins = rng.binomial(n, 1.0 / (1.0 + np.exp(-(theta[i] - theta[j]))))
    battles = Battles(
        tuple(f"m{k}" for k in range(m)),
        np.concatenate([i, i]),
        np.concatenate([j, j]),
        np.concatenate([np.full(len(i), A_WINS), np.full(len(i), B_WINS)]),
        weight=np.concatenate([wins, n - wins]).astype(float),
    )
    rows = [
        "| intervals | wall (best of 3) | CPU "
        "| largest distance of a bound from the sandwich bound (points) |",
        "|---|---:|---:|---:|",
    ]
    results = {}
    for label, kwargs in (
        ("sandwich", {"ci": "sandwich"}),
        ("profile", {"ci": "profile"}),
        ("sandwich, pair_frequency", {"ci": "sandwich", "reweight": "pair_frequency"}),
        ("profile, pair_frequency", {"ci": "profile", "reweight": "pair_frequency"}),
    ):
        best = (math.inf, math.inf)
        for _ in range(3):
            c0, t0 = time.process_time(), time.perf_counter()
            results[label] = bradley_terry(battles, **kwargs)  # type: ignore[arg-type]
            best = min(best, (time.perf_counter() - t0, time.process_time() - c0))
        ref, got = results[label.replace("profile", "sandwich")], results[label]
        assert got.lower is not None and got.upper is not None
        assert ref.lower is not None and ref.upper is not None
        gap = max(np.abs(got.lower - ref.lower).max(), np.abs(got.upper - ref.upper).max())
        rows.append(f"| {label} | {best[0] * 1e3:.0f} ms | {best[1] * 1e3:.0f} ms | {gap:.3f} |")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arenas", type=int, default=150)
    parser.add_argument("--newcomers", type=int, default=3, help="newcomers per group")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-write", action="store_true", help="do not touch RESULTS.md")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    load_start = os.getloadavg()[0]
    t0 = time.perf_counter()
    cov_rows, per_arena = coverage(args.arenas, args.newcomers, args.seed)
    t_cov = time.perf_counter() - t0
    time_rows = timing(args.seed)
    machine = (
        f"{os.cpu_count()} cores, CPU `{cpu_model()}`, Python "
        f"{platform.python_version()}, numpy {np.__version__}, "
        f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC"
    )
    lines = [
        SECTION,
        "",
        f"Machine: {machine}; load average {load_start:.1f} at start, "
        f"{os.getloadavg()[0]:.1f} at end (the machine is shared).",
        "",
        f"{args.arenas} simulated arenas (seed {args.seed}): {N_ESTABLISHED} established models "
        f"with ~{ESTABLISHED_BATTLES} battles each and {args.newcomers} newcomers per group with "
        f"exactly {', '.join(map(str, GROUPS))} battles against random established models; "
        "θ ~ N(0, 1) natural units, decisive outcomes. Each cell: coverage of the true rating "
        "by the nominal 95 % interval, in the gauge the method reports (sandwich/bootstrap: "
        "relative to the component mean; profile: relative to the core mean, see the "
        "script's docstring), then the mean width in points of the intervals with two finite "
        "bounds and the share of intervals with an open (infinite) side. "
        f"{args.arenas * args.newcomers} newcomers per group, "
        f"{args.arenas * N_ESTABLISHED} established model-arenas.",
        "",
        *cov_rows,
        "",
        "Mean time per arena: "
        + ", ".join(f"{k} {v * 1e3:.0f} ms" for k, v in per_arena.items())
        + f"; coverage part {t_cov:.0f} s.",
        "",
        "Speed on 200 models, 1,000,000 battles given as pair counts (19,900 pairs), same run:",
        "",
        *time_rows,
        "",
    ]
    results_report(SECTION, "\n".join(lines), write=not args.no_write)


if __name__ == "__main__":
    main()
