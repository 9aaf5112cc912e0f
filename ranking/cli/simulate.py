"""``python -m ranking simulate INPUT``: Competitive Swiss-system dynamics, E[S]."""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np

from ranking.cli._output import Output
from ranking.cli.bracket import load_json
from ranking.errors import InputError
from ranking.simulate import failure_sensitivity, scores_to_win, swiss_dynamics


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not np.isfinite(value):
        raise InputError(f"{where} must be a finite number; got {value!r}")
    return float(value)


def parse_simulate_input(doc: Any) -> tuple[list[str], list[str], np.ndarray]:
    """Model names, round names and the per-round win matrices ``(K, M, M)``."""
    if not isinstance(doc, dict):
        raise InputError('input must be a JSON object with "models" and "rounds"')
    models = doc.get("models")
    if (
        not isinstance(models, list)
        or len(models) < 2
        or not all(isinstance(m, str) and m for m in models)
    ):
        raise InputError('"models" must be a list of at least 2 model names')
    dup = sorted({x for x in models if models.count(x) > 1})
    if dup:
        raise InputError(f"model names must be unique; repeated: {', '.join(dup)}")
    rounds = doc.get("rounds")
    if not isinstance(rounds, list) or not rounds:
        raise InputError('"rounds" must be a non-empty list of rounds')
    m = len(models)
    index = {name: i for i, name in enumerate(models)}
    names: list[str] = []
    mats = []
    for k, rnd in enumerate(rounds):
        if not isinstance(rnd, dict):
            raise InputError(f"rounds[{k}] must be an object")
        name = rnd.get("name", f"round {k + 1}")
        names.append(str(name))
        where = f"rounds[{k}] ({name})"
        if ("scores" in rnd) == ("p" in rnd):
            raise InputError(f'{where} needs exactly one of "scores" or "p"')
        if "scores" in rnd:
            scores = rnd["scores"]
            if not isinstance(scores, dict):
                raise InputError(f'{where}: "scores" must map model names to numbers')
            unknown = sorted(set(scores) - set(index))
            if unknown:
                raise InputError(f"{where}: unknown model(s) in scores: {', '.join(unknown)}")
            missing = [x for x in models if x not in scores]
            if missing:
                raise InputError(f"{where}: no score for {', '.join(missing)}")
            row = [_number(scores[x], f"{where}.scores[{x!r}]") for x in models]
            mats.append(scores_to_win(np.array([row]))[0])
        else:
            p = rnd["p"]
            if not isinstance(p, list) or len(p) != m:
                raise InputError(f'{where}: "p" must be a list of {m} rows (models order)')
            mat = []
            for i, r in enumerate(p):
                if not isinstance(r, list) or len(r) != m:
                    raise InputError(f"{where}: p[{i}] must be a list of {m} numbers")
                mat.append([_number(v, f"{where}.p[{i}][{j}]") for j, v in enumerate(r)])
            mats.append(np.array(mat))
    return models, names, np.stack(mats)


def _int_list(text: str, option: str) -> list[int]:
    try:
        values = [int(x) for x in text.split(",") if x.strip() != ""]
    except ValueError:
        raise InputError(
            f"{option} must be comma-separated integers like 0,0,2; got {text!r}"
        ) from None
    if any(v < 0 for v in values):
        raise InputError(f"{option} values must be non-negative; got {text!r}")
    return values


def handle(args: argparse.Namespace) -> Output:
    """Run ``python -m ranking simulate`` on the parsed arguments."""
    models, round_names, win = parse_simulate_input(load_json(args.input))
    if args.iterations < 1:
        raise InputError(f"--iterations must be a positive integer; got {args.iterations}")
    eliminate = _int_list(args.eliminate, "--eliminate") if args.eliminate else None
    if args.sweep:
        if eliminate:
            raise InputError("--sweep and --eliminate cannot be combined")
        levels = _int_list(args.sweep, "--sweep") if args.sweep != "auto" else None
        fs = failure_sensitivity(
            win, names=models, levels=levels, iterations=args.iterations, rng=args.seed
        )
        doc_models = [
            {
                "name": fs.models[i],
                "expected_score": [float(x) for x in fs.expected_score[:, i]],
                "stderr": [float(x) for x in fs.stderr[:, i]],
                "rank": [int(x) for x in fs.rank[:, i]],
                "retention": float(fs.retention[i]),
                "rank_shift": int(fs.rank_shift[i]),
                "share_shift": float(fs.share_shift[i]),
                "profile": fs.profile[i],
            }
            for i in np.argsort(fs.rank[0], kind="stable")
        ]
        doc = {
            "iterations": args.iterations,
            "seed": args.seed,
            "levels": list(fs.levels),
            "models": doc_models,
        }
        rows = [
            {
                "name": d["name"],
                **{f"T={lv}": d["expected_score"][j] for j, lv in enumerate(fs.levels)},
                "retention": d["retention"],
                "rank_shift": d["rank_shift"],
                "profile": d["profile"],
            }
            for d in doc_models
        ]
        return Output(document=doc, rows=rows)
    res = swiss_dynamics(
        win, names=models, eliminate=eliminate, iterations=args.iterations, rng=args.seed
    )
    out_models = [
        {
            "name": res.models[i],
            "expected_score": float(res.expected_score[i]),
            "stderr": float(res.stderr[i]),
            "p_survive": [float(x) for x in res.p_survive[i]],
            "p_first": float(res.p_first[i]),
        }
        for i in res.order()
    ]
    doc = {
        "iterations": res.iterations,
        "seed": args.seed,
        "rounds": round_names,
        "eliminate": list(res.eliminate),
        "models": out_models,
    }
    rows = [
        {
            "name": d["name"],
            "expected_score": d["expected_score"],
            "stderr": d["stderr"],
            "p_first": d["p_first"],
            "p_survive": d["p_survive"],
        }
        for d in out_models
    ]
    return Output(
        document=doc,
        rows=rows,
        columns=["name", "expected_score", "stderr", "p_first", "p_survive"],
    )


def register(subparsers: Any) -> None:
    """Add the ``simulate`` subcommand to ``subparsers``."""
    from ranking.cli import add_output_option

    parser = subparsers.add_parser(
        "simulate",
        help="Competitive Swiss-system dynamics: expected win scores",
        description="Monte Carlo expected win score E[S] of each model in a Swiss "
        "tournament whose rounds are benchmarks (LLM Swiss Round).",
    )
    parser.add_argument(
        "input",
        help='JSON {"models": [...], "rounds": [{"name", "scores": '
        '{model: score}} | {"name", "p": [[...]]}, ...]}',
    )
    parser.add_argument("--iterations", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--eliminate", default=None, help="T_k per round, comma-separated (e.g. 0,0,2)"
    )
    parser.add_argument(
        "--sweep",
        default=None,
        metavar="LEVELS",
        help="failure-sensitivity sweep over uniform T (e.g. 0,1,2 or auto)",
    )
    add_output_option(parser)
    parser.set_defaults(handler=handle)
