"""Judge pipelines: a tournament's ``judge_pipeline`` validated, its calls, their aggregation.

Pipelines, chosen per tournament in ``Tournament.judge_pipeline``:

- ``single``: one judge (``samples`` draws; more than one are combined by majority);
- ``majority``: several judges and/or samples, plurality of their swap-consistent outcomes
  (equal top counts give a tie);
- ``dual``: the first judge decides, a reviewer sees that verdict and confirms or corrects
  it, per order; the reviewed verdicts go through the swap rule;
- ``confidence``: every verdict states a confidence in [0, 1]; the outcome is the sign of the
  confidence- and weight-weighted mean preference, a tie inside ``tie_threshold``;
- ``debate``: two or three judges judge independently (stage ``round1``), then for ``rounds - 1``
  more rounds each sees the others' previous outputs (fenced as untrusted) and judges again
  (``round2``, ...), then each votes (stage ``vote``) after reading the others' last outputs;
  the outcome is the majority of the judges' swap-combined votes (equal top counts: a tie).
  Each order is debated on its own when the pipeline swaps.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from clients.judges import (
    AggregationError,
    outcome_of,
    swap_combine,
    verdict_outcome,
    verdict_score,
)
from clients.urlguard import validate_endpoint_url

__all__ = [
    "DEFAULT_PIPELINE",
    "PIPELINE_KEYS",
    "PIPELINES",
    "Aggregate",
    "JudgeSpec",
    "JudgeVote",
    "PipelineSpec",
    "Slot",
    "aggregate",
    "attempt_stage",
    "debate_stages",
    "pipeline_from_config",
    "primary_slots",
]

PIPELINES = ("single", "majority", "dual", "confidence", "debate")
#: The keys a ``judge_pipeline`` may hold.
PIPELINE_KEYS = frozenset(
    {
        "pipeline",
        "judges",
        "samples",
        "swap",
        "reviewer",
        "tie_threshold",
        "max_parse_retries",
        "rounds",
    }
)
#: Debate: judges and rounds allowed.
DEBATE_JUDGES = (2, 3)
DEBATE_MAX_ROUNDS = 3
#: The debate's last stage.
VOTE_STAGE = "vote"


@dataclass(frozen=True)
class JudgeSpec:
    """One judge: simulated, or an OpenAI-compatible model."""

    name: str
    kind: str = "simulated"
    weight: float = 1.0
    #: the pinned version of the judge (a model snapshot such as ``2024-08-06``); with the
    #: model name it fixes what the judge is, and the drift gate checks it has not moved
    version: str = ""
    #: the company whose model the judge is (compared with competitors' providers for
    #: self-preference); empty when not named
    provider: str = ""
    #: prices per million input (prompt) and output (completion) tokens; 0 for the simulated judge
    price_input_per_million: float = 0.0
    price_output_per_million: float = 0.0
    # simulated judge
    position_bias: float = 0.0
    noise: float = 0.0
    tie_rate: float = 0.1
    seed: int = 0
    # OpenAI-compatible judge
    base_url: str = ""
    model: str = ""
    api_key_env: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    max_concurrency: int = 16
    allow_internal: bool = False

    @property
    def prices_per_1k(self) -> tuple[float, float]:
        """The prices per 1,000 prompt and completion tokens (as endpoint configs take them)."""
        return self.price_input_per_million / 1000.0, self.price_output_per_million / 1000.0


@dataclass(frozen=True)
class PipelineSpec:
    """A validated ``Tournament.judge_pipeline``."""

    pipeline: str
    judges: tuple[JudgeSpec, ...]
    samples: int = 1
    swap: bool = True
    reviewer: JudgeSpec | None = None
    tie_threshold: float = 0.1
    max_parse_retries: int = 2
    rounds: int = 1

    @property
    def require_confidence(self) -> bool:
        return self.pipeline == "confidence"

    @property
    def final_stage(self) -> str:
        """The stage whose verdicts decide: ``review`` (dual), ``vote`` (debate), ``primary``."""
        return {"dual": "review", "debate": VOTE_STAGE}.get(self.pipeline, "primary")


DEFAULT_PIPELINE: dict[str, Any] = {
    "pipeline": "single",
    "judges": [{"name": "sim-judge", "kind": "simulated"}],
}


def _judge_from(raw: Any, where: str, errors: dict[str, list[str]]) -> JudgeSpec | None:
    if not isinstance(raw, dict):
        errors.setdefault(where, []).append("must be an object with at least 'name' and 'kind'")
        return None
    known = {f for f in JudgeSpec.__dataclass_fields__}
    unknown = sorted(set(raw) - known)
    if unknown:
        errors.setdefault(where, []).append(f"unknown key(s) {', '.join(unknown)}")
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 150:
        errors.setdefault(f"{where}.name", []).append("a judge name (1-150 characters) is required")
        return None
    kind = raw.get("kind", "simulated")
    if kind not in ("simulated", "openai"):
        errors.setdefault(f"{where}.kind", []).append(
            f"must be 'simulated' or 'openai'; got {kind!r}"
        )
        return None
    values = {k: v for k, v in raw.items() if k in known}
    for key, lo, hi in (
        ("weight", 0.0, 1e6),
        ("position_bias", -1000.0, 1000.0),
        ("noise", 0.0, 2000.0),
        ("tie_rate", 0.0, 1.0),
        ("price_input_per_million", 0.0, 1e4),
        ("price_output_per_million", 0.0, 1e4),
    ):
        if key in values:
            v = values[key]
            if (
                isinstance(v, bool)
                or not isinstance(v, int | float)
                or not (lo <= v <= hi)
                or not math.isfinite(v)
            ):
                errors.setdefault(f"{where}.{key}", []).append(
                    f"must be a number between {lo:g} and {hi:g}; got {v!r}"
                )
                return None
            values[key] = float(v)
    version = values.get("version", "")
    if not isinstance(version, str) or len(version) > 100:
        errors.setdefault(f"{where}.version", []).append(
            "must be a string of at most 100 characters"
        )
        return None
    provider = values.get("provider", "")
    if not isinstance(provider, str) or len(provider) > 100:
        errors.setdefault(f"{where}.provider", []).append(
            f"must be a string of at most 100 characters; got {provider!r}"[:200]
        )
        return None
    values["provider"] = provider.strip()
    if "weight" in values and values["weight"] <= 0:
        errors.setdefault(f"{where}.weight", []).append("must be positive")
        return None
    if kind == "openai":
        try:
            values["base_url"] = validate_endpoint_url(
                str(raw.get("base_url", "")), allow_internal=bool(raw.get("allow_internal", False))
            )
        except ValueError as exc:
            errors.setdefault(f"{where}.base_url", []).append(str(exc))
            return None
        if not raw.get("model"):
            errors.setdefault(f"{where}.model", []).append("the judge's model name is required")
            return None
        if not isinstance(raw.get("params", {}), dict):
            errors.setdefault(f"{where}.params", []).append("must be an object")
            return None
    try:
        return JudgeSpec(**values)
    except TypeError as exc:
        errors.setdefault(where, []).append(str(exc))
        return None


def pipeline_from_config(config: dict[str, Any] | None) -> PipelineSpec:
    """Validate a ``judge_pipeline`` JSON object (``{}`` or ``None`` means the default).

    Raises
    ------
    ValueError
        ``args[1]`` holds field errors ``{"judge_pipeline.<field>": [messages]}``.
    """
    raw = dict(config or DEFAULT_PIPELINE)
    errors: dict[str, list[str]] = {}
    pipeline = raw.get("pipeline", "single")
    if pipeline not in PIPELINES:
        errors["pipeline"] = [f"must be one of {', '.join(PIPELINES)}; got {pipeline!r}"]
    unknown = sorted(set(raw) - PIPELINE_KEYS)
    if unknown:
        errors["judge_pipeline"] = [f"unknown key(s) {', '.join(unknown)}"]
    judges_raw = raw.get("judges") or DEFAULT_PIPELINE["judges"]
    if not isinstance(judges_raw, list):
        errors["judges"] = ["must be a list of judges"]
        judges_raw = []
    judges = [
        j
        for i, r in enumerate(judges_raw)
        if (j := _judge_from(r, f"judges[{i}]", errors)) is not None
    ]
    if len({j.name for j in judges}) != len(judges):
        errors.setdefault("judges", []).append("judge names must be unique")
    samples = raw.get("samples", 1)
    if isinstance(samples, bool) or not isinstance(samples, int) or not 1 <= samples <= 15:
        errors["samples"] = [f"must be an integer from 1 to 15; got {samples!r}"]
        samples = 1
    swap = raw.get("swap", True)
    if not isinstance(swap, bool):
        errors["swap"] = ["must be true or false"]
    retries = raw.get("max_parse_retries", 2)
    if isinstance(retries, bool) or not isinstance(retries, int) or not 0 <= retries <= 5:
        errors["max_parse_retries"] = [f"must be an integer from 0 to 5; got {retries!r}"]
        retries = 2
    tie_threshold = raw.get("tie_threshold", 0.1)
    if (
        isinstance(tie_threshold, bool)
        or not isinstance(tie_threshold, int | float)
        or not 0 <= tie_threshold < 1
    ):
        errors["tie_threshold"] = ["must be a number in [0, 1)"]
        tie_threshold = 0.1
    reviewer = None
    if pipeline == "dual":
        if "reviewer" not in raw:
            errors["reviewer"] = ["the dual pipeline needs a reviewer judge"]
        else:
            reviewer = _judge_from(raw["reviewer"], "reviewer", errors)
        if len(judges) != 1:
            errors.setdefault("judges", []).append(
                "the dual pipeline takes exactly one primary judge"
            )
    elif "reviewer" in raw:
        errors["reviewer"] = ["only the dual pipeline has a reviewer"]
    rounds = raw.get("rounds", 1)
    if pipeline == "debate":
        if len(judges) not in DEBATE_JUDGES:
            errors.setdefault("judges", []).append("the debate pipeline takes two or three judges")
        if (
            isinstance(rounds, bool)
            or not isinstance(rounds, int)
            or not 1 <= rounds <= DEBATE_MAX_ROUNDS
        ):
            errors["rounds"] = [f"must be an integer from 1 to {DEBATE_MAX_ROUNDS}; got {rounds!r}"]
            rounds = 1
        if samples != 1:
            errors.setdefault("samples", []).append("the debate pipeline takes one sample")
    elif "rounds" in raw:
        errors["rounds"] = ["only the debate pipeline has rounds"]
    if pipeline == "single" and len(judges) != 1:
        errors.setdefault("judges", []).append("the single pipeline takes exactly one judge")
    if pipeline == "majority" and len(judges) * int(samples) < 2:
        errors.setdefault("judges", []).append("majority needs several judges or samples > 1")
    if errors:
        raise ValueError(
            "invalid judge pipeline", {f"judge_pipeline.{k}": v for k, v in errors.items()}
        )
    return PipelineSpec(
        pipeline=pipeline,
        judges=tuple(judges),
        samples=int(samples),
        swap=bool(swap),
        reviewer=reviewer,
        tie_threshold=float(tie_threshold),
        max_parse_retries=int(retries),
        rounds=int(rounds),
    )


@dataclass(frozen=True)
class Slot:
    """One judge call: judge name, presentation order, sample number, stage."""

    judge: str
    order: str
    sample: int
    stage: str = "primary"


def primary_slots(spec: PipelineSpec) -> list[Slot]:
    """The first-stage calls of a pipeline (reviews, or a debate's later rounds, follow)."""
    orders = ("ab", "ba") if spec.swap else ("ab",)
    stage = "round1" if spec.pipeline == "debate" else "primary"
    return [
        Slot(j.name, o, s, stage) for j in spec.judges for s in range(spec.samples) for o in orders
    ]


def debate_stages(spec: PipelineSpec) -> list[str]:
    """A debate's stages after the first round, in order: ``round2`` ... then ``vote``."""
    return [f"round{r}" for r in range(2, spec.rounds + 1)] + [VOTE_STAGE]


def attempt_stage(stage: str, attempt: int) -> str:
    """The stage label of a parse retry: ``primary``, ``primary/r1``, ``primary/r2`` ..."""
    return stage if attempt == 0 else f"{stage}/r{attempt}"


@dataclass(frozen=True)
class JudgeVote:
    """A usable verdict of one slot (after parse retries), in presentation order."""

    judge: str
    order: str
    sample: int
    stage: str
    verdict: str
    confidence: float | None = None
    weight: float = 1.0


@dataclass(frozen=True)
class Aggregate:
    """A pipeline's decision: outcome in the match frame, margin (A's mean preference)."""

    outcome: str
    margin: float
    n_votes: int


def aggregate(spec: PipelineSpec, votes: Iterable[JudgeVote]) -> Aggregate:
    """Combine the usable verdicts of a match into one outcome.

    Voters are (judge, sample) pairs; a voter needs both orders when the pipeline swaps.
    For ``dual`` the reviewer's verdicts replace the primary ones.

    Raises
    ------
    AggregationError
        When no voter has the verdicts it needs.
    """
    votes = list(votes)
    final_stage = spec.final_stage
    by_voter: dict[tuple[str, int], dict[str, JudgeVote]] = {}
    primary_judges = {j.name for j in spec.judges}
    for v in votes:
        if v.stage.split("/")[0] != final_stage:
            continue
        voter_judge = v.judge if final_stage != "review" else next(iter(primary_judges))
        if final_stage != "review" and v.judge not in primary_judges:
            continue
        by_voter.setdefault((voter_judge, v.sample), {})[v.order] = v
    needed = ("ab", "ba") if spec.swap else ("ab",)
    complete = {k: d for k, d in by_voter.items() if all(o in d for o in needed)}
    if not complete:
        raise AggregationError("no judge produced a usable verdict in every required order")
    margin_num = 0.0
    margin_den = 0.0
    for d in complete.values():
        for o, v in d.items():
            w = v.weight * (
                v.confidence if spec.require_confidence and v.confidence is not None else 1.0
            )
            margin_num += w * verdict_score(v.verdict, o) / 2.0
            margin_den += w
    margin = margin_num / margin_den if margin_den > 0 else 0.0
    n = sum(len(d) for d in complete.values())
    if spec.pipeline == "confidence":
        if margin_den == 0 or abs(margin) <= spec.tie_threshold:
            return Aggregate("tie", margin, n)
        return Aggregate(outcome_of(margin), margin, n)
    outcomes = [
        swap_combine(d["ab"].verdict, d["ba"].verdict)
        if spec.swap
        else verdict_outcome(d["ab"].verdict, "ab")
        for d in complete.values()
    ]
    counts = Counter(outcomes).most_common()
    if len(counts) > 1 and counts[0][1] == counts[1][1]:
        return Aggregate("tie", margin, n)
    return Aggregate(counts[0][0], margin, n)
