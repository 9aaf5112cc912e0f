"""Staff page to configure and start a tournament, validated by the tournament service itself.

The form only collects input; :func:`arena.services.tournaments.tournament_create` decides what
is valid, and its field errors (``config.rounds``, ``judge_pipeline.judges``, ...) are shown next
to the matching form field in words a person can act on.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from arena import models as m
from arena.exceptions import ApplicationError
from arena.formats import format_choices, format_get, format_kinds
from arena.selectors.leaderboard import leaderboard_get
from arena.web.views import csp
from clients import PIPELINE_KEYS

#: Each format's ``config`` example, in the form's order (:attr:`TournamentFormat.help`).
CONFIG_HELP = {kind: format_get(kind).help for kind in format_kinds()}


class TournamentConfigForm(forms.Form):
    name = forms.CharField(max_length=200)
    format = forms.ChoiceField(choices=format_choices)
    competitors = forms.ModelMultipleChoiceField(
        queryset=m.Competitor.objects.filter(status=m.Competitor.Status.ACTIVE).order_by("name"),
        widget=forms.CheckboxSelectMultiple,
        help_text="Entrants are seeded by their current Bradley-Terry rating, best first (unrated "
        "ones last).",
    )
    prompt_sets = forms.ModelMultipleChoiceField(
        queryset=m.PromptSet.objects.order_by("name"), widget=forms.CheckboxSelectMultiple
    )
    config = forms.JSONField(
        required=False, initial=dict, help_text="Format options as JSON; leave {} for the defaults."
    )
    judge_pipeline = forms.JSONField(
        required=False,
        initial=dict,
        help_text="Judges as JSON; {} uses the default simulated judge.",
    )
    seed = forms.IntegerField(
        required=False, min_value=0, help_text="For reproducible pairings; empty picks one."
    )
    start_now = forms.BooleanField(
        required=False, initial=False, label="Start the tournament right away"
    )


def _field_for(key: str) -> str | None:
    head = key.split(".", 1)[0].split("[", 1)[0]
    if head in TournamentConfigForm.base_fields:
        return head
    if head in PIPELINE_KEYS:
        return "judge_pipeline"
    return None


def _apply_errors(form: TournamentConfigForm, exc: ApplicationError) -> None:
    for key, msgs in (exc.field_errors or {}).items():
        field = _field_for(key)
        detail = key.split(".", 1)[1] if "." in key else ""
        for msg in msgs if isinstance(msgs, list) else [msgs]:
            text = f"{detail}: {msg}" if detail else str(msg)
            form.add_error(field, text)
    if not exc.field_errors:
        form.add_error(None, exc.message)


@csp
@staff_member_required
def tournament_new(request: HttpRequest) -> HttpResponse:
    """Create (and optionally start) a tournament; every rule is checked by the service."""
    from arena.services import tournaments as svc

    form = TournamentConfigForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data: dict[str, Any] = form.cleaned_data
        board = leaderboard_get(method="bt") or {}
        rating = {r.get("competitor_id"): r["rating"] for r in board.get("ratings", [])}
        competitors = sorted(
            data["competitors"], key=lambda c: (-rating.get(c.id, float("-inf")), c.name)
        )
        try:
            tournament = svc.tournament_create(
                name=data["name"],
                format=data["format"],
                competitors=competitors,
                config=data["config"] or {},
                prompt_sets=list(data["prompt_sets"]),
                judge_pipeline=data["judge_pipeline"] or None,
                seed=data["seed"],
                created_by=request.user,
            )
            if data["start_now"]:
                svc.tournament_start(tournament=tournament)
        except ApplicationError as exc:
            _apply_errors(form, exc)
        else:
            messages.success(
                request,
                f"Tournament {tournament.name!r} created"
                + (" and started." if data["start_now"] else " as a draft."),
            )
            return redirect("tournament-detail", pk=tournament.pk)
    return render(
        request,
        "arena/staff_tournament_new.html",
        {"form": form, "config_help": CONFIG_HELP, "nav": "tournaments"},
        status=400 if form.errors else 200,
    )
