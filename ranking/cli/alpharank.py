"""``python -m ranking alpharank INPUT --alpha 100|sweep --population-size 50``.

INPUT is one of (DESIGN.md):

- JSON ``{"payoffs": [T_1, ..., T_K], "strategies": [[names of population 1], ...]}`` where
  ``T_k[s_1]...[s_K]`` is the payoff to population ``k`` (one population: a single square
  matrix, also accepted as ``"payoffs": M``);
- a JSON array that is a single square matrix, ``M[i][j]`` = payoff to ``i`` against ``j``;
- a battle file (JSON array or JSON Lines of battle records, battle CSV, pair-counts CSV):
  then ``M[i][j]`` is ``i``'s win rate against ``j`` (ties ½), and ``--rounds`` gives
  bootstrap intervals on the masses.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from typing import Any

from ranking.alpharank import (
    DEFAULT_SWEEP_ALPHAS,
    AlphaRankResult,
    alpharank_from_battles,
    alpharank_game,
)
from ranking.cli._output import Output
from ranking.errors import InputError


def register(subparsers: Any) -> None:
    """Add the ``alpharank`` subcommand."""
    from ranking.cli import add_battle_file_options, add_output_option

    parser = subparsers.add_parser(
        "alpharank",
        help="α-Rank of a game or of models from their battles",
        description="α-Rank (Omidshafiei et al. 2019), computed in log space so that it "
        "stays finite for any alpha.",
    )
    parser.add_argument("input", help="payoff JSON, a square matrix JSON, or a battle file")
    parser.add_argument(
        "--alpha",
        default="100",
        help="selection intensity (a number >= 0, 'inf', or 'sweep' for a "
        "range of values; default 100)",
    )
    parser.add_argument(
        "--alphas",
        default=None,
        help="comma-separated alpha values for --alpha sweep (default "
        + ",".join(f"{a:g}" for a in DEFAULT_SWEEP_ALPHAS)
        + ")",
    )
    parser.add_argument("--population-size", type=int, default=50, help="default 50")
    parser.add_argument(
        "--selection",
        choices=("local", "global"),
        default="local",
        help="one population: fitness against the resident only (local, "
        "OpenSpiel's default) or against the whole population",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=0,
        help="battle input: bootstrap rounds for mass intervals (default 0)",
    )
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    parser.add_argument("--confidence", type=float, default=0.95)
    add_battle_file_options(parser, note="battle input: ")
    add_output_option(parser)
    parser.set_defaults(handler=run)


def _parse_alpha(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise InputError(f"--alpha must be a number, 'inf' or 'sweep'; got {text!r}") from None
    if math.isnan(value) or value < 0:
        raise InputError(f"--alpha must be a non-negative number; got {text!r}")
    return value


def _parse_alphas(text: str | None) -> list[float]:
    if text is None:
        return list(DEFAULT_SWEEP_ALPHAS)
    values = [_parse_alpha(part.strip()) for part in text.split(",") if part.strip()]
    if not values:
        raise InputError("--alphas must list at least one value")
    return values


def _load(path: str, args: argparse.Namespace) -> tuple[str, Any, Any]:
    """Return ``("payoffs", tables, strategies)`` or ``("battles", battles, None)``."""
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    try:
        doc = json.loads(text)
    except json.JSONDecodeError:
        doc = None
    if isinstance(doc, dict) and "payoffs" in doc:
        return "payoffs", doc["payoffs"], doc.get("strategies")
    if isinstance(doc, dict) and not {"model_a", "model_b", "winner"} & set(doc):
        raise InputError(f"{path}: a JSON object must hold 'payoffs' (and optionally 'strategies')")
    if isinstance(doc, list) and doc and all(isinstance(row, list) for row in doc):
        return "payoffs", doc, None
    if isinstance(doc, list) and not doc:
        raise InputError(
            f"{path}: the JSON array is empty; expected a square matrix or battle records"
        )
    if isinstance(doc, list) and not all(isinstance(row, dict) for row in doc):
        raise InputError(
            f"{path}: a JSON array must be a square matrix (a list of rows) or "
            "a list of battle records"
        )
    from ranking.cli import read_battle_file

    return "battles", read_battle_file(path, args).battles, None


def _rows(result: AlphaRankResult) -> list[dict[str, Any]]:
    rows = []
    for row in result.to_rows():
        out = {"rank": row["rank"], "profile": ",".join(row["names"]), "mass": row["mass"]}
        if "lower" in row:
            out["lower"] = row["lower"]
            out["upper"] = row["upper"]
        rows.append(out)
    return rows


def run(args: argparse.Namespace) -> Output:
    """Run ``python -m ranking alpharank`` on the parsed arguments."""
    sweep = args.alpha.strip().lower() == "sweep"
    alphas = _parse_alphas(args.alphas) if sweep else [_parse_alpha(args.alpha)]
    if args.alphas is not None and not sweep:
        raise InputError("--alphas goes with --alpha sweep")
    kind, data, strategies = _load(args.input, args)
    if kind == "payoffs" and args.rounds:
        raise InputError(
            "--rounds (bootstrap) needs a battle file; payoff tables have no sampling uncertainty"
        )
    local = args.selection == "local"
    results: list[AlphaRankResult] = []
    for a in alphas:
        if kind == "battles":
            results.append(
                alpharank_from_battles(
                    data,
                    alpha=a,
                    population_size=args.population_size,
                    rounds=args.rounds,
                    confidence=args.confidence,
                    rng=args.seed,
                    local_selection=local,
                )
            )
        else:
            results.append(
                alpharank_game(
                    data,
                    alpha=a,
                    population_size=args.population_size,
                    strategies=strategies,
                    local_selection=local,
                )
            )
    if results[0].unplayed:
        pairs = results[0].unplayed
        shown = ", ".join(f"{x} vs {y}" for x, y in pairs[:5])
        more = f" and {len(pairs) - 5} more" if len(pairs) > 5 else ""
        print(
            f"warning: {len(pairs)} pair(s) never played ({shown}{more}); their win rate "
            "was set to 0.5",
            file=sys.stderr,
        )
    if not sweep:
        result = results[0]
        columns = ["rank", "profile", "mass"]
        if result.lower is not None:
            columns += ["lower", "upper"]
        return Output(document=result.to_json(), rows=_rows(result), columns=columns)
    last = results[-1]
    document = {
        "alpha": "sweep",
        "alphas": [r.to_json()["alpha"] for r in results],
        "population_size": int(last.population_size),
        "sweep": [{"alpha": r.to_json()["alpha"], "profiles": r.to_rows()} for r in results],
    }
    names = last.names
    ranks = [r.rank for r in results]
    rows = []
    for i in last.order():
        row: dict[str, Any] = {"profile": ",".join(names[i])}
        for r in results:
            row[f"mass@{r.alpha:g}"] = float(r.mass[i])
        for r, rank in zip(results, ranks):
            row[f"rank@{r.alpha:g}"] = int(rank[i])
        rows.append(row)
    return Output(document=document, rows=rows, columns=list(rows[0]))
