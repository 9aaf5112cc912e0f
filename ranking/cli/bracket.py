"""``python -m ranking bracket INPUT``: seeded single-elimination probabilities."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import numpy as np

from ranking.bracket import (
    BracketProbabilities,
    bracket_monte_carlo,
    bracket_probabilities,
    double_elimination,
)
from ranking.cli._output import Output
from ranking.errors import InputError


def load_json(path: str) -> Any:
    """Read a JSON document from ``path`` (``-`` for stdin) with a clear error."""
    try:
        if path == "-":
            return json.load(sys.stdin)
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: line {exc.lineno}: not valid JSON ({exc.msg})") from None
    except UnicodeDecodeError:
        raise InputError(f"{path}: not a UTF-8 text file") from None


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not np.isfinite(value):
        raise InputError(f"{where} must be a finite number; got {value!r}")
    return float(value)


def parse_bracket_input(doc: Any) -> tuple[list[str], np.ndarray, bool]:
    """Names in seed order and either ratings (1-D) or a ``p`` matrix (2-D).

    Returns ``(names, strength, is_matrix)``.
    """
    if not isinstance(doc, dict) or "entrants" not in doc:
        raise InputError('input must be a JSON object with an "entrants" list')
    entrants = doc["entrants"]
    if not isinstance(entrants, list) or len(entrants) < 2:
        raise InputError('"entrants" must be a list of at least 2 entrants in seed order')
    names: list[str] = []
    ratings: list[float] = []
    has_p = "p" in doc
    for k, e in enumerate(entrants):
        if isinstance(e, str):
            e = {"name": e}
        if not isinstance(e, dict) or not isinstance(e.get("name"), str) or not e["name"]:
            raise InputError(f'entrants[{k}] must be an object with a non-empty "name"')
        names.append(e["name"])
        if not has_p:
            if "rating" not in e:
                raise InputError(
                    f'entrants[{k}] ({e["name"]}) needs a "rating" (or give a "p" matrix)'
                )
            ratings.append(_number(e["rating"], f"entrants[{k}].rating"))
    dup = sorted({x for x in names if names.count(x) > 1})
    if dup:
        raise InputError(f"entrant names must be unique; repeated: {', '.join(dup)}")
    if not has_p:
        return names, np.array(ratings), False
    p = doc["p"]
    n = len(names)
    if not isinstance(p, list) or len(p) != n:
        raise InputError(f'"p" must be a list of {n} rows (one per entrant)')
    rows = []
    for i, row in enumerate(p):
        if not isinstance(row, list) or len(row) != n:
            raise InputError(f"p[{i}] must be a list of {n} numbers")
        rows.append([_number(v, f"p[{i}][{j}]") for j, v in enumerate(row)])
    return names, np.array(rows), True


def _document(names: list[str], res: BracketProbabilities, seed: int | None) -> dict[str, Any]:
    out: dict[str, Any] = {"rounds": res.rounds, "method": res.method}
    if res.simulations is not None:
        out["simulations"] = res.simulations
        out["seed"] = seed
    entrants = []
    for i, name in enumerate(names):
        row: dict[str, Any] = {
            "name": name,
            "seed": i + 1,
            "p_reach": [float(x) for x in res.p_reach[i]],
        }
        if res.stderr is not None:
            row["stderr"] = [float(x) for x in res.stderr[i]]
        if res.p_third is not None:
            row["p_third"] = float(res.p_third[i])
        entrants.append(row)
    out["entrants"] = entrants
    return out


_DE_FIELDS = ("p_champion", "p_grand_final", "p_unbeaten", "expected_wins", "expected_place")


def _double(names: list[str], strength: np.ndarray, args: argparse.Namespace) -> Output:
    sims = 100_000 if args.simulations is None else args.simulations
    res = double_elimination(
        strength,
        simulations=sims,
        scale=args.scale,
        base=args.base,
        grand_final_reset=not args.no_reset,
        rng=args.seed,
    )
    entrants = []
    for i, name in enumerate(names):
        row: dict[str, Any] = {"name": name, "seed": i + 1}
        row.update({f: float(getattr(res, f)[i]) for f in _DE_FIELDS})
        row["stderr"] = {f: float(res.stderr[f][i]) for f in _DE_FIELDS}
        entrants.append(row)
    doc = {
        "format": "double_elimination",
        "rounds": res.rounds,
        "grand_final_reset": not args.no_reset,
        "simulations": res.simulations,
        "seed": args.seed,
        "entrants": entrants,
    }
    rows = [{k: v for k, v in e.items() if k != "stderr"} for e in entrants]
    return Output(document=doc, rows=rows, columns=["name", "seed", *_DE_FIELDS])


def handle(args: argparse.Namespace) -> Output:
    """Run ``python -m ranking bracket`` on the parsed arguments."""
    names, strength, _ = parse_bracket_input(load_json(args.input))
    if args.simulations is not None and args.simulations < 1:
        raise InputError(f"--simulations must be a positive integer; got {args.simulations}")
    if args.double:
        return _double(names, strength, args)
    if args.simulations is not None:
        res = bracket_monte_carlo(
            strength, simulations=args.simulations, scale=args.scale, base=args.base, rng=args.seed
        )
    else:
        res = bracket_probabilities(
            strength, scale=args.scale, base=args.base, third_place=args.third_place
        )
    doc = _document(names, res, args.seed)
    cols = [f"round_{k + 1}" for k in range(res.rounds)] + ["champion"]
    rows = []
    for e in doc["entrants"]:
        row: dict[str, Any] = {"name": e["name"], "seed": e["seed"]}
        row.update(zip(cols, e["p_reach"]))
        if "stderr" in e:
            row["champion_stderr"] = e["stderr"][-1]
        if "p_third" in e:
            row["third"] = e["p_third"]
        rows.append(row)
    columns = ["name", "seed", *cols]
    columns += [c for c in ("champion_stderr", "third") if rows and c in rows[0]]
    return Output(document=doc, rows=rows, columns=columns)


def register(subparsers: Any) -> None:
    """Add the ``bracket`` subcommand to ``subparsers``."""
    from ranking.cli import add_logistic_options, add_output_option

    parser = subparsers.add_parser(
        "bracket",
        help="seeded single-elimination probabilities",
        description="Probability of reaching each round and of winning a seeded "
        "single-elimination bracket (exact, or Monte Carlo with --simulations).",
    )
    parser.add_argument(
        "input",
        help='JSON {"entrants": [{"name", "rating"}, ...]} in seed '
        'order, optionally with a "p" matrix; - for stdin',
    )
    parser.add_argument(
        "--simulations",
        type=int,
        default=None,
        help="estimate by Monte Carlo with N simulated brackets",
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (Monte Carlo)")
    add_logistic_options(parser)
    parser.add_argument(
        "--third-place",
        action="store_true",
        help="also report P(win the third-place match) (exact mode)",
    )
    parser.add_argument(
        "--double",
        action="store_true",
        help="double elimination (Monte Carlo; 100,000 events by default)",
    )
    parser.add_argument(
        "--no-reset", action="store_true", help="double elimination without the bracket-reset final"
    )
    add_output_option(parser)
    parser.set_defaults(handler=handle)
