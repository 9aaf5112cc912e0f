"""Judging a match: run the tournament's judge pipeline, store every output, decide once.

Each judge call is a slot ``(judge, order, sample, stage)``; its output is stored as an
append-only :class:`~arena.models.Judgment` (raw text, rationale, parsed verdict or the parse
error). A parse error is retried under the stage label ``<stage>/r<k>`` up to the pipeline's
``max_parse_retries``; a slot that never parses is left out, never guessed. A re-delivered
judge step finds its slots already stored and only calls the missing ones, so nothing is
judged or counted twice. Endpoint failures bubble up to the step's retry policy.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from arena.exceptions import ApplicationError
from arena.models import Battle, Generation, JudgeRun, Judgment, Match, Source, Vote
from arena.services.match_results import (
    match_finish_judged,
    match_record_failure,
    step_retry_delay,
)
from arena.services.model_calls import endpoint_limiter, wait_with_heartbeat
from clients import (
    Aggregate,
    AggregationError,
    Completion,
    EndpointConfig,
    EndpointError,
    JudgeSpec,
    JudgeVote,
    PermanentEndpointError,
    PipelineSpec,
    Slot,
    VerdictParseError,
    aggregate,
    attempt_stage,
    chat_completion,
    debate_stages,
    parse_verdict,
    pipeline_from_config,
    primary_slots,
    render_debate_messages,
    render_judge_messages,
    render_review_messages,
    simulated_judge_completion,
    verdict_outcome,
)
from clients.pipelines import VOTE_STAGE


def judge_pipeline_validate(config: dict[str, Any] | None) -> PipelineSpec:
    """Validate a ``judge_pipeline``; raises ApplicationError with field errors."""
    try:
        return pipeline_from_config(config)
    except ValueError as exc:
        fields = exc.args[1] if len(exc.args) > 1 else {"judge_pipeline": [str(exc)]}
        raise ApplicationError("Invalid judge pipeline.", field_errors=fields) from None


def _judge_call(
    spec: PipelineSpec, judge: JudgeSpec, messages: list[dict[str, str]], slot_key: str, sample: int
) -> Completion:
    """One judge call with its usage (tokens, latency, cost at the judge spec's prices)."""
    if judge.kind == "simulated":
        return simulated_judge_completion(
            messages, judge=judge, slot_key=slot_key, require_confidence=spec.require_confidence
        )
    api_key = os.environ.get(judge.api_key_env) if judge.api_key_env else None
    if judge.api_key_env and api_key is None:
        raise PermanentEndpointError(f"environment variable {judge.api_key_env} is not set")
    params = dict(judge.params)
    params.setdefault("temperature", 0.0 if spec.samples == 1 else 0.7)
    if judge.price_input_per_million or judge.price_output_per_million:
        params["price_prompt_per_1k"], params["price_completion_per_1k"] = judge.prices_per_1k
    try:
        config = EndpointConfig.from_params(
            key=f"judge:{judge.name}",
            base_url=judge.base_url,
            model=judge.model,
            api_key=api_key,
            params=params,
            max_concurrency=judge.max_concurrency,
        )
    except ValueError as exc:
        raise PermanentEndpointError(str(exc)) from None
    return chat_completion(config, messages, limiter=endpoint_limiter())


def _judges_by_name(spec: PipelineSpec) -> dict[str, JudgeSpec]:
    judges = {j.name: j for j in spec.judges}
    if spec.reviewer is not None:
        judges[spec.reviewer.name] = spec.reviewer
    return judges


def _vote_of(row: Judgment, judges: dict[str, JudgeSpec]) -> JudgeVote:
    weight = judges[row.judge].weight if row.judge in judges else 1.0
    return JudgeVote(
        judge=row.judge,
        order=row.order,
        sample=row.sample,
        stage=row.stage.split("/")[0],
        verdict=row.verdict,
        confidence=row.confidence,
        weight=weight,
    )


def _run_slots(
    match: Match,
    spec: PipelineSpec,
    slots: list[Slot],
    texts: dict[str, str],
    prompt: str,
    first_outputs: dict[tuple[str, int], str] | None = None,
    run: JudgeRun | None = None,
    debate_outputs: dict[tuple[str, int], dict[str, str]] | None = None,
) -> dict[Slot, Judgment | None]:
    """Make sure every slot has a parsed verdict (or has used up its retries).

    ``first_outputs`` are the primary outputs a reviewer sees, by (order, sample);
    ``debate_outputs`` the previous debate round's outputs by (order, sample) and judge.
    Returns the valid Judgment per slot (``None`` for a slot that never parsed).
    """
    judges = _judges_by_name(spec)
    result: dict[Slot, Judgment | None] = {}
    while True:
        existing: dict[tuple[str, str, int, str], Judgment] = {
            (j.judge, j.order, j.sample, j.stage): j
            for j in Judgment.objects.filter(match=match, run=run)
        }
        todo: list[tuple[Slot, str, list[dict[str, str]]]] = []
        for slot in slots:
            attempts = [
                existing.get((slot.judge, slot.order, slot.sample, attempt_stage(slot.stage, k)))
                for k in range(spec.max_parse_retries + 1)
            ]
            valid = next((a for a in attempts if a is not None and a.verdict), None)
            if valid is not None:
                result[slot] = valid
                continue
            used = sum(a is not None for a in attempts)
            if used > spec.max_parse_retries:
                result[slot] = None
                continue
            first, second = (
                (texts["a"], texts["b"]) if slot.order == "ab" else (texts["b"], texts["a"])
            )
            if slot.stage == VOTE_STAGE or (
                slot.stage.startswith("round") and slot.stage != "round1"
            ):
                previous = (debate_outputs or {}).get((slot.order, slot.sample), {})
                messages = render_debate_messages(
                    prompt=prompt,
                    first=first,
                    second=second,
                    others=[
                        previous[j.name]
                        for j in spec.judges
                        if j.name != slot.judge and j.name in previous
                    ],
                    vote=slot.stage == VOTE_STAGE,
                )
            elif slot.stage == "review":
                primary = (first_outputs or {}).get((slot.order, slot.sample), "")
                messages = render_review_messages(
                    prompt=prompt,
                    first=first,
                    second=second,
                    first_output=primary,
                    require_confidence=spec.require_confidence,
                )
            else:
                messages = render_judge_messages(
                    prompt=prompt,
                    first=first,
                    second=second,
                    require_confidence=spec.require_confidence,
                )
            todo.append((slot, attempt_stage(slot.stage, used), messages))
        if not todo:
            return result

        def call(item: tuple[Slot, str, list[dict[str, str]]]) -> Completion:
            slot, stage, messages = item
            key = f"{match.pk}:{slot.order}:{slot.sample}:{stage}"
            return _judge_call(spec, judges[slot.judge], messages, key, slot.sample)

        outputs: list[Completion | BaseException] = []
        with ThreadPoolExecutor(max_workers=min(8, len(todo))) as pool:
            futures = [pool.submit(call, item) for item in todo]
            wait_with_heartbeat(futures, match.pk, Match.Status.JUDGING)
            for f in futures:
                try:
                    outputs.append(f.result())
                except EndpointError as exc:
                    outputs.append(exc)
        first_error: EndpointError | None = None
        for (slot, stage, _), out in zip(todo, outputs):
            if isinstance(out, BaseException):
                first_error = first_error or out  # type: ignore[assignment]
                continue
            _store(match, slot, stage, out, spec, run)
        if first_error is not None:
            raise first_error


def _store(
    match: Match,
    slot: Slot,
    stage: str,
    completion: Completion,
    spec: PipelineSpec,
    run: JudgeRun | None,
) -> None:
    fields: dict[str, Any] = {
        "raw_output": completion.text,
        "prompt_tokens": completion.prompt_tokens,
        "completion_tokens": completion.completion_tokens,
        "latency_ms": completion.latency_ms,
        "cost": completion.cost,
    }
    try:
        parsed = parse_verdict(completion.text, require_confidence=spec.require_confidence)
        fields.update(
            verdict=parsed.verdict,
            outcome=verdict_outcome(parsed.verdict, slot.order),
            confidence=parsed.confidence,
            rationale=parsed.rationale,
        )
    except VerdictParseError as exc:
        fields.update(parse_error=str(exc))
    try:
        with transaction.atomic():
            Judgment.objects.create(
                match=match,
                run=run,
                judge=slot.judge,
                order=slot.order,
                sample=slot.sample,
                stage=stage,
                **fields,
            )
    except IntegrityError:  # stored by another copy of this step
        pass


def match_judge(*, match_id: int) -> str | None:
    """Judge a match in ``judging`` state and finish it; the outcome (``None`` if not judged).

    Raises
    ------
    EndpointError
        A judge endpoint failed (stored slots are kept; the step is retried).
    AggregationError
        Every slot used up its parse retries.
    """
    match = Match.objects.select_related("tournament", "prompt").filter(id=match_id).first()
    if match is None or match.status != Match.Status.JUDGING:
        return None
    if match.tournament is not None and match.tournament.status != match.tournament.Status.RUNNING:
        return None
    spec = pipeline_from_config(match.tournament.judge_pipeline if match.tournament else None)
    Match.objects.filter(id=match_id, status=Match.Status.JUDGING).update(updated_at=timezone.now())
    decision = match_decide(match=match, spec=spec)
    match_finish_judged(
        match_id=match_id, outcome=decision.outcome, judge_label=pipeline_label(spec)
    )
    return decision.outcome


def pipeline_label(spec: PipelineSpec) -> str:
    """How a pipeline's verdicts are labelled on the battles it decides."""
    if spec.pipeline == "dual" and spec.reviewer is not None:
        return f"{spec.judges[0].name}+review:{spec.reviewer.name}"
    if spec.pipeline in ("single", "dual"):
        return spec.judges[0].name
    return f"{spec.pipeline}:" + ",".join(j.name for j in spec.judges)


def match_decide(*, match: Match, spec: PipelineSpec, run: JudgeRun | None = None) -> Aggregate:
    """Run ``spec`` over a match's stored answers (missing slots only) and aggregate.

    ``run`` keeps the verdicts apart as a re-judge run's (the match's own judging has none).

    Raises
    ------
    EndpointError
        A judge endpoint failed (stored slots are kept).
    AggregationError
        No usable verdict.
    """
    texts = dict(Generation.objects.filter(match=match).values_list("side", "text"))
    prompt = match.prompt.text if match.prompt else ""
    primary = _run_slots(match, spec, primary_slots(spec), texts, prompt, run=run)
    votes = [_vote_of(j, _judges_by_name(spec)) for j in primary.values() if j is not None]
    if spec.pipeline == "dual" and spec.reviewer is not None:
        outputs = {(s.order, s.sample): j.raw_output for s, j in primary.items() if j is not None}
        review_slots = [
            Slot(spec.reviewer.name, s.order, s.sample, "review")
            for s, j in primary.items()
            if j is not None
        ]
        reviewed = _run_slots(
            match, spec, review_slots, texts, prompt, first_outputs=outputs, run=run
        )
        votes += [_vote_of(j, _judges_by_name(spec)) for j in reviewed.values() if j is not None]
    if spec.pipeline == "debate":
        previous = primary
        for stage in debate_stages(spec):
            said: dict[tuple[str, int], dict[str, str]] = {}
            for s, j in previous.items():
                if j is not None:
                    said.setdefault((s.order, s.sample), {})[s.judge] = j.raw_output
            slots = [Slot(s.judge, s.order, s.sample, stage) for s in previous]
            previous = _run_slots(match, spec, slots, texts, prompt, run=run, debate_outputs=said)
        votes = [_vote_of(j, _judges_by_name(spec)) for j in previous.values() if j is not None]
    return aggregate(spec, votes)


#: The stage of a drift-gate re-grade (:mod:`arena.services.judge_calibration`).
CALIBRATION_STAGE = "calibration"


def match_grade(*, match: Match, spec: PipelineSpec, run: JudgeRun) -> str | None:
    """The outcome ``spec``'s judges give a match for the drift gate (``None``: undecided).

    The calls are stored under ``run`` with the stage ``calibration`` (so they count as the
    run's calls, not as verdicts on the match) and aggregated as the pipeline's primary stage.
    """
    texts = dict(Generation.objects.filter(match=match).values_list("side", "text"))
    prompt = match.prompt.text if match.prompt else ""
    orders = ("ab", "ba") if spec.swap else ("ab",)
    slots = [Slot(j.name, o, 0, CALIBRATION_STAGE) for j in spec.judges for o in orders]
    stored = _run_slots(match, spec, slots, texts, prompt, run=run)
    judges = _judges_by_name(spec)
    votes = [replace(_vote_of(j, judges), stage="primary") for j in stored.values() if j]
    try:
        return aggregate(spec, votes).outcome
    except AggregationError:
        return None


def match_judge_step(*, match_id: int) -> float | None:
    """:func:`match_judge` with the failure policy; returns a retry delay or ``None``."""
    try:
        match_judge(match_id=match_id)
    except AggregationError as exc:
        match_record_failure(
            match_id=match_id, error=f"judging failed: {exc}", side=None, permanent=True
        )
    except EndpointError as exc:
        permanent = isinstance(exc, PermanentEndpointError)
        finished = match_record_failure(
            match_id=match_id, error=f"judge: {exc}", side=None, permanent=permanent
        )
        if not finished:
            return step_retry_delay(match_id, exc)
    return None


def judge_agreement(*, judge: str | None = None, category: str | None = None) -> dict[str, Any]:
    """Agreement of judge verdicts with human votes on the same matches.

    For every match with a judged Battle and at least one human vote, the judged outcome is
    compared with each vote (``tie (bothbad)`` counts as ``tie``). Reports the number of
    shared matches and votes, raw agreement, agreement with ties left out, and Cohen's
    kappa over the three classes (A, B, tie).
    """
    judged = Battle.objects.filter(source=Source.JUDGE, match__isnull=False)
    if judge:
        judged = judged.filter(judge=judge)
    if category:
        judged = judged.filter(category=category)
    judged_by_match = dict(judged.values_list("match_id", "outcome"))
    votes = Vote.objects.filter(match_id__in=list(judged_by_match)).values_list(
        "match_id", "outcome"
    )

    def norm(o: str) -> str:
        return "tie" if o.startswith("tie") else o

    pairs = [(norm(judged_by_match[m]), norm(o)) for m, o in votes]
    n = len(pairs)
    labels = ("model_a", "model_b", "tie")
    agree = sum(j == h for j, h in pairs)
    decided = [(j, h) for j, h in pairs if j != "tie" and h != "tie"]
    p_o = agree / n if n else None
    kappa = None
    if n:
        p_e = sum(
            (sum(j == c for j, _ in pairs) / n) * (sum(h == c for _, h in pairs) / n)
            for c in labels
        )
        kappa = None if p_e >= 1 else (p_o - p_e) / (1 - p_e)  # type: ignore[operator]
    return {
        "judge": judge,
        "category": category,
        "matches": len({m for m, _ in votes}),
        "votes": n,
        "agreement": p_o,
        "agreement_without_ties": (sum(j == h for j, h in decided) / len(decided))
        if decided
        else None,
        "cohen_kappa": kappa,
        "confusion": {
            j: {h: sum(1 for a, b in pairs if a == j and b == h) for h in labels} for j in labels
        },
    }


__all__ = [
    "judge_agreement",
    "judge_pipeline_validate",
    "CALIBRATION_STAGE",
    "match_decide",
    "match_grade",
    "match_judge",
    "match_judge_step",
    "pipeline_label",
]
