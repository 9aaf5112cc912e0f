"""Django admin: search, filters, and read-only audit records."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin, messages
from django.http import HttpRequest
from django.shortcuts import redirect
from django.template.response import TemplateResponse

from arena import models as m
from arena.formats import format_choices, format_label


class ReadOnlyAdmin(admin.ModelAdmin):
    """For append-only records: viewable and searchable, never edited or deleted."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(m.ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ["prefix", "user", "name", "created_at", "last_used_at", "revoked_at"]
    search_fields = ["prefix", "user__username", "name"]
    readonly_fields = ["prefix", "key_hash", "created_at", "last_used_at"]
    list_filter = ["revoked_at"]


class PriceInline(admin.TabularInline):
    """A model's admin prices, newest first (read only: add one under Prices)."""

    model = m.Price
    extra = 0
    fields = ("created_at", "input_per_mtok", "output_per_mtok", "currency", "set_by")
    readonly_fields = fields
    ordering = ["-id"]
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(m.Competitor)
class CompetitorAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "status", "owner", "provider", "visibility", "created_at"]
    list_filter = ["kind", "status", "visibility"]
    search_fields = ["name", "provider", "owner__username", "endpoint_url"]
    readonly_fields = ["created_at", "updated_at"]
    list_editable = ["status"]
    inlines = [PriceInline]


@admin.register(m.Price)
class PriceAdmin(admin.ModelAdmin):
    """Admin prices: added (append-only; the latest is current), never changed or deleted.

    Saving goes through :func:`arena.services.prices.price_set`, which states the currency
    (the deployment's) and records who set the price.
    """

    list_display = [
        "competitor",
        "input_per_mtok",
        "output_per_mtok",
        "currency",
        "public_input_per_mtok",
        "public_output_per_mtok",
        "set_by",
        "created_at",
    ]
    list_select_related = ["competitor"]
    search_fields = ["competitor__name", "set_by"]
    autocomplete_fields = ["competitor"]
    fields = [
        "competitor",
        "input_per_mtok",
        "output_per_mtok",
        "public_input_per_mtok",
        "public_output_per_mtok",
        "public_source_url",
        "public_checked_on",
        "note",
    ]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return obj is None and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        from arena.services.prices import price_set

        price, _ = price_set(
            competitor=obj.competitor,
            input_per_mtok=obj.input_per_mtok,
            output_per_mtok=obj.output_per_mtok,
            public_input_per_mtok=obj.public_input_per_mtok,
            public_output_per_mtok=obj.public_output_per_mtok,
            public_source_url=obj.public_source_url,
            public_checked_on=obj.public_checked_on,
            note=obj.note,
            set_by=request.user.get_username(),
        )
        obj.pk, obj.currency, obj.set_by = price.pk, price.currency, price.set_by
        obj.created_at = price.created_at
        obj._state.adding = False


class PromptInline(admin.TabularInline):
    model = m.Prompt
    extra = 0


@admin.register(m.PromptSet)
class PromptSetAdmin(admin.ModelAdmin):
    list_display = ["name", "category", "public", "created_at"]
    list_filter = ["public"]
    search_fields = ["name", "description"]
    inlines = [PromptInline]


class EntryInline(admin.TabularInline):
    model = m.Entry
    extra = 0
    autocomplete_fields = ["competitor"]


def _tournament_action(verb: str, service_name: str) -> Any:
    """An admin action calling the tournament service; refusals are reported, not raised."""

    def action(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: Any) -> None:
        from arena.exceptions import ApplicationError
        from arena.services import tournaments as svc

        fn = getattr(svc, service_name)
        done = []
        for tournament in queryset:
            try:
                fn(tournament=tournament)
                done.append(tournament.name)
            except ApplicationError as exc:
                modeladmin.message_user(
                    request, f"{tournament.name}: {exc.message}", level=messages.WARNING
                )
        if done:
            modeladmin.message_user(request, f"{verb}: {', '.join(done)}", level=messages.SUCCESS)

    action.__name__ = f"{service_name}_action"
    return admin.action(description=f"{verb} the selected tournaments")(action)


def _rejudge(
    modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: Any, *, tournaments: bool
) -> Any:
    """Ask for a run name and a pipeline, then start a judge run over the selection."""
    from arena.exceptions import ApplicationError
    from arena.services.judge_runs import judge_run_create

    errors: list[str] = []
    form = {
        "run_name": request.POST.get("run_name", ""),
        "pipeline": request.POST.get("pipeline", ""),
        "calibration_set": request.POST.get("calibration_set", ""),
    }
    if request.POST.get("apply"):
        ids = sorted(queryset.values_list("id", flat=True))
        scope: dict[str, Any] = {"match_ids": ids}
        if tournaments:
            scope = {"tournament_id": ids[0]} if len(ids) == 1 else {}
            if not scope:
                errors.append("Select exactly one tournament.")
        try:
            pipeline = json.loads(form["pipeline"])
        except json.JSONDecodeError as exc:
            errors.append(f"The judge pipeline must be JSON: {exc}")
        if not errors:
            try:
                run = judge_run_create(
                    name=form["run_name"],
                    pipeline=pipeline,
                    calibration_set=form["calibration_set"] or None,
                    created_by=request.user,
                    **scope,
                )
            except ApplicationError as exc:
                errors.append(exc.message)
                errors += [f"{k}: {' '.join(v)}" for k, v in exc.field_errors.items()]
            else:
                modeladmin.message_user(
                    request,
                    f"Judge run {run.name!r} started: {len(run.match_ids)} matches.",
                    level=messages.SUCCESS,
                )
                return None
    return TemplateResponse(
        request,
        "admin/arena/rejudge.html",
        {
            **modeladmin.admin_site.each_context(request),
            "title": "Re-judge",
            "what": "the selected tournament" if tournaments else "the selected matches",
            "count": queryset.count(),
            "selected": list(queryset.values_list("id", flat=True)),
            "action": f"rejudge_{'tournament' if tournaments else 'matches'}_action",
            "errors": errors,
            **form,
        },
    )


@admin.action(description="Re-judge with another judge pipeline (a judge run)")
def rejudge_tournament_action(modeladmin: admin.ModelAdmin, request: HttpRequest, qs: Any) -> Any:
    return _rejudge(modeladmin, request, qs, tournaments=True)


@admin.action(description="Re-judge with another judge pipeline (a judge run)")
def rejudge_matches_action(modeladmin: admin.ModelAdmin, request: HttpRequest, qs: Any) -> Any:
    return _rejudge(modeladmin, request, qs, tournaments=False)


class FormatFilter(admin.SimpleListFilter):
    """Filter by the formats of the registry (:func:`arena.formats.format_choices`)."""

    title = "format"
    parameter_name = "format"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return format_choices()

    def queryset(self, request: HttpRequest, queryset: Any) -> Any:
        return queryset.filter(format=self.value()) if self.value() else queryset


@admin.register(m.Tournament)
class TournamentAdmin(admin.ModelAdmin):
    """Tournaments are created through the staff form (validated by the tournament service) and
    controlled with the actions here; after creation only the name can change by hand."""

    list_display = ["name", "format_name", "status", "created_at", "started_at", "finished_at"]
    list_filter = [FormatFilter, "status"]
    search_fields = ["name"]
    exclude = ["format"]
    readonly_fields = [
        "format_name",
        "status",
        "config",
        "judge_pipeline",
        "seed",
        "prompt_sets",
        "created_by",
        "created_at",
        "started_at",
        "finished_at",
        "results",
    ]
    inlines = [EntryInline]
    actions = [
        _tournament_action("Started", "tournament_start"),
        _tournament_action("Paused", "tournament_pause"),
        _tournament_action("Resumed", "tournament_resume"),
        _tournament_action("Cancelled", "tournament_cancel"),
        rejudge_tournament_action,
    ]

    @admin.display(description="format", ordering="format")
    def format_name(self, obj: m.Tournament) -> str:
        return format_label(obj.format)

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context: Any = None) -> Any:
        return redirect("staff-tournament-new")

    def get_inlines(self, request: HttpRequest, obj: Any) -> list[Any]:
        return [EntryInline] if obj is not None and obj.status == m.Tournament.Status.DRAFT else []


@admin.register(m.Round)
class RoundAdmin(admin.ModelAdmin):
    list_display = ["tournament", "number", "status", "prompt_set", "completed_at"]
    list_filter = ["status"]


@admin.register(m.Match)
class MatchAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "tournament",
        "round",
        "competitor_a",
        "competitor_b",
        "status",
        "outcome",
        "attempts",
        "updated_at",
    ]
    list_filter = ["status", "outcome", "tournament"]
    search_fields = ["competitor_a__name", "competitor_b__name", "tournament__name"]
    readonly_fields = ["created_at", "updated_at", "finished_at", "attempts", "outcome"]
    list_select_related = ["tournament", "round", "competitor_a", "competitor_b"]
    actions = [rejudge_matches_action]


@admin.action(description="Resume the selected judge runs (re-send their steps)")
def resume_judge_runs(modeladmin: admin.ModelAdmin, request: HttpRequest, qs: Any) -> None:
    from arena.services.judge_runs import judge_run_resume

    for run in qs:
        judge_run_resume(run_id=run.pk)
    modeladmin.message_user(request, f"Resumed {qs.count()} judge run(s).", level=messages.SUCCESS)


@admin.register(m.JudgeRun)
class JudgeRunAdmin(ReadOnlyAdmin):
    list_display = ["name", "status", "created_at", "finished_at", "error"]
    list_filter = ["status"]
    search_fields = ["name"]
    actions = [resume_judge_runs]


@admin.register(m.CalibrationItem)
class CalibrationItemAdmin(ReadOnlyAdmin):
    list_display = ["set_name", "match", "outcome", "created_at"]
    list_filter = ["set_name"]


@admin.register(m.JudgePin)
class JudgePinAdmin(ReadOnlyAdmin):
    list_display = ["judge", "version", "model", "set_name", "agreement", "n", "created_at"]


@admin.register(m.Generation)
class GenerationAdmin(ReadOnlyAdmin):
    list_display = [
        "match",
        "side",
        "competitor",
        "latency_ms",
        "completion_tokens",
        "cost",
        "cost_basis",
        "price",
        "created_at",
    ]
    list_filter = ["cost_basis"]
    search_fields = ["competitor__name"]


@admin.register(m.Judgment)
class JudgmentAdmin(ReadOnlyAdmin):
    list_display = [
        "match",
        "judge",
        "order",
        "sample",
        "stage",
        "verdict",
        "outcome",
        "confidence",
        "created_at",
    ]
    list_filter = ["judge", "verdict", "stage"]


@admin.register(m.Vote)
class VoteAdmin(ReadOnlyAdmin):
    list_display = ["id", "match", "outcome", "voter_hash", "created_at"]
    list_filter = ["outcome"]
    date_hierarchy = "created_at"


@admin.register(m.Battle)
class BattleAdmin(ReadOnlyAdmin):
    list_display = ["id", "model_a", "model_b", "outcome", "source", "category", "tstamp"]
    list_filter = ["source", "outcome", "category"]
    search_fields = ["model_a__name", "model_b__name"]
    list_select_related = ["model_a", "model_b"]


class KwiseEntryInline(admin.TabularInline):
    model = m.KwiseEntry
    fields = ["position", "competitor", "rank"]
    readonly_fields = ["position", "competitor", "rank"]
    ordering = ["position"]
    extra = 0
    can_delete = False

    def has_add_permission(self, request: Any, obj: Any = None) -> bool:
        return False


@admin.register(m.KwiseBattle)
class KwiseBattleAdmin(ReadOnlyAdmin):
    """One K-wise result (K-Sort Arena vote or imported record) with its ranked entries."""

    list_display = ["id", "k", "source", "category", "tstamp"]
    list_filter = ["source", "k", "category"]
    inlines = [KwiseEntryInline]


@admin.register(m.ImportBatch)
class ImportBatchAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "filename",
        "fmt",
        "n_rows",
        "n_battles",
        "skipped",
        "created_by",
        "created_at",
    ]


@admin.register(m.LeaderboardSnapshot)
class LeaderboardSnapshotAdmin(ReadOnlyAdmin):
    list_display = [
        "method",
        "source",
        "category",
        "version",
        "n_battles",
        "n_models",
        "data_version",
        "created_at",
    ]
    list_filter = ["method", "source", "category"]
