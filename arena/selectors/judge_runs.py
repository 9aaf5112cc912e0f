"""Reads of judge runs: one shape for the API and the pages."""

from __future__ import annotations

from typing import Any

from arena.models import JudgeRun
from arena.services.judge_runs import judge_run_progress


def judge_run_dict(*, run: JudgeRun, board: bool) -> dict[str, Any]:
    """A judge run as served: status, reason, pipeline, scope, progress, gate (and board)."""
    out: dict[str, Any] = {
        "id": run.pk,
        "name": run.name,
        "status": run.status,
        "error": run.error,
        "judge_pipeline": run.pipeline,
        "scope": run.scope,
        "progress": judge_run_progress(run=run),
        "calibration": run.calibration,
        "created_at": run.created_at.isoformat(),
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
    }
    if board:
        out["board"] = run.board
    return out


def judge_runs_recent(*, limit: int = 20) -> list[JudgeRun]:
    """The latest judge runs, newest first (without their boards)."""
    return list(JudgeRun.objects.defer("board").order_by("-created_at", "-id")[:limit])


__all__ = ["judge_run_dict", "judge_runs_recent"]
