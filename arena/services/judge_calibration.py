"""Judge pinning and the drift gate.

A judge is pinned by its name and ``version`` (with the model it names): the first time a
pinned judge grades a calibration set, its agreement with the set's frozen reference verdicts
is stored as its baseline (:class:`~arena.models.JudgePin`). A calibration set is a named,
append-only list of stored matches with reference outcomes (:func:`calibration_set_freeze`).

Before a re-judge run every judge of its pipeline re-grades the set alone (same swap rule as
the run); a judge whose agreement moved more than ``LUDUS_JUDGE_DRIFT_THRESHOLD`` from its
baseline (in either direction: a judge that changed is not the judge that was pinned) is
barred, and the run fails with the reason. A different model under a pinned name and version
is refused when the run is created.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction

from arena.exceptions import ApplicationError
from arena.models import CalibrationItem, JudgePin, JudgeRun, Match
from arena.services.judging import match_grade
from clients import JudgeSpec, PipelineSpec


def _norm(outcome: str | None) -> str | None:
    return "tie" if outcome is not None and outcome.startswith("tie") else outcome


def calibration_set_freeze(*, name: str, match_ids: list[int]) -> int:
    """Freeze the current outcomes of finished matches as a calibration set's reference verdicts.

    Matches already in the set keep their first reference (the set is append-only). Returns
    the number of items added.

    Raises
    ------
    ApplicationError
        A bad name, or a match that is not finished with an outcome.
    """
    if not isinstance(name, str) or not name.strip() or len(name) > 100:
        raise ApplicationError(
            "Invalid calibration set.", field_errors={"name": ["a name of 1-100 characters"]}
        )
    outcomes = {
        match_id: str(outcome)
        for match_id, outcome in Match.objects.filter(
            id__in=match_ids, status=Match.Status.DONE, outcome__isnull=False
        ).values_list("id", "outcome")
    }
    missing = sorted(set(match_ids) - set(outcomes))
    if missing:
        raise ApplicationError(
            "Matches without an outcome.",
            field_errors={
                "matches": [f"not finished with an outcome: {', '.join(map(str, missing[:10]))}"]
            },
        )
    added = 0
    for match_id, outcome in sorted(outcomes.items()):
        try:
            with transaction.atomic():
                CalibrationItem.objects.create(set_name=name, match_id=match_id, outcome=outcome)
            added += 1
        except IntegrityError:
            pass
    return added


def _gated_judges(spec: PipelineSpec) -> list[JudgeSpec]:
    return [*spec.judges, *([spec.reviewer] if spec.reviewer is not None else [])]


def pins_check(*, spec: PipelineSpec, set_name: str) -> None:
    """Refuse a judge whose name and version are pinned to another model, or an unpinned
    OpenAI-compatible judge (a re-judge run needs a fixed model name and version).

    Raises
    ------
    ApplicationError
        With ``judge_pipeline.judges`` field errors.
    """
    problems = []
    for judge in _gated_judges(spec):
        if judge.kind == "openai" and not judge.version:
            problems.append(
                f"judge {judge.name!r}: give its 'version' (the model snapshot it is pinned to)"
            )
            continue
        other = (
            JudgePin.objects.filter(judge=judge.name, version=judge.version)
            .exclude(model=judge.model)
            .values_list("model", flat=True)
            .first()
        )
        if other is not None:
            problems.append(
                f"judge {judge.name!r} version {judge.version!r} is pinned to model {other!r}; "
                f"got {judge.model!r} (a different model needs a new version)"
            )
    if problems:
        raise ApplicationError(
            "Judge not pinned.", field_errors={"judge_pipeline.judges": problems}
        )


def calibration_gate(*, run: JudgeRun, spec: PipelineSpec) -> dict[str, Any]:
    """Re-grade the run's calibration set with each judge alone; who is barred, and why.

    Returns
    -------
    dict
        ``{"set", "items", "threshold", "judges": [{"judge", "version", "agreement", "n",
        "pinned_agreement", "shift", "pinned_now", "barred", "reason"}]}``; without items
        (no such set) nobody is gated and ``judges`` is empty.

    Raises
    ------
    EndpointError
        A judge failed; the stored calls are kept and the step is retried.
    """
    set_name = str(run.scope.get("calibration_set") or "")
    threshold = float(settings.LUDUS_JUDGE_DRIFT_THRESHOLD)
    items = list(
        CalibrationItem.objects.filter(set_name=set_name)
        .select_related("match__prompt")
        .order_by("match_id")
    )
    report: dict[str, Any] = {
        "set": set_name,
        "items": len(items),
        "threshold": threshold,
        "judges": [],
    }
    for judge in _gated_judges(spec):
        if not items:
            break
        alone = PipelineSpec(
            pipeline="single",
            judges=(judge,),
            swap=spec.swap,
            max_parse_retries=spec.max_parse_retries,
        )
        agree = sum(
            _norm(match_grade(match=item.match, spec=alone, run=run)) == _norm(item.outcome)
            for item in items
        )
        agreement = agree / len(items)
        pin, created = JudgePin.objects.get_or_create(
            judge=judge.name,
            version=judge.version,
            set_name=set_name,
            defaults={"model": judge.model, "agreement": agreement, "n": len(items)},
        )
        shift = abs(agreement - pin.agreement)
        barred = shift > threshold + 1e-12
        label = f"{judge.name!r}" + (f" version {judge.version!r}" if judge.version else "")
        reason = (
            f"Judge {label} is barred: its agreement with the frozen verdicts of calibration "
            f"set {set_name!r} is {agreement:.3f} ({agree}/{len(items)}), pinned at "
            f"{pin.agreement:.3f}; the shift {shift:.3f} exceeds LUDUS_JUDGE_DRIFT_THRESHOLD "
            f"{threshold:g}."
            if barred
            else ""
        )
        report["judges"].append(
            {
                "judge": judge.name,
                "version": judge.version,
                "agreement": agreement,
                "n": len(items),
                "pinned_agreement": pin.agreement,
                "shift": shift,
                "pinned_now": created,
                "barred": barred,
                "reason": reason,
            }
        )
    return report


__all__ = ["calibration_gate", "calibration_set_freeze", "pins_check"]
