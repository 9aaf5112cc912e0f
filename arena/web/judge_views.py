"""Judge runs and rank stability pages (the same reads as ``judge-runs/`` and
``judges/stability/`` in the API)."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from arena.exceptions import ApplicationError
from arena.models import JudgeRun
from arena.selectors.judge_runs import judge_run_dict
from arena.selectors.rank_stability import board_choices, stability_report
from arena.web.views import csp


@csp
@require_GET
def judge_run_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """A judge run: status (or why it failed), progress, the drift gate, and its board."""
    run = JudgeRun.objects.filter(pk=pk).first()
    if run is None:
        raise Http404("No such judge run.")
    data = judge_run_dict(run=run, board=True)
    return render(
        request,
        "arena/judge_run.html",
        {"nav": "judges", "run": data, "choices": board_choices()},
    )


@csp
@require_GET
def judge_stability(request: HttpRequest) -> HttpResponse:
    """The rank-stability report between two boards chosen in the form."""
    choices = board_choices()
    a, b = request.GET.get("a", ""), request.GET.get("b", "")
    report = None
    errors: list[str] = []
    status = 200
    if a and b:
        try:
            report = stability_report(a=a, b=b)
        except ApplicationError as exc:
            errors = [m for msgs in exc.field_errors.values() for m in msgs] or [exc.message]
            status = 400
    return render(
        request,
        "arena/judge_stability.html",
        {"nav": "judges", "choices": choices, "a": a, "b": b, "report": report, "errors": errors},
        status=status,
    )
