"""Django admin: search, filters, and read-only audit records."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from arena import models as m


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


@admin.register(m.Competitor)
class CompetitorAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "status", "owner", "provider", "visibility", "created_at"]
    list_filter = ["kind", "status", "visibility"]
    search_fields = ["name", "provider", "owner__username", "endpoint_url"]
    readonly_fields = ["created_at", "updated_at"]
    list_editable = ["status"]


class PromptInline(admin.TabularInline):
    model = m.Prompt
    extra = 0


@admin.register(m.PromptSet)
class PromptSetAdmin(admin.ModelAdmin):
    list_display = ["name", "category", "created_at"]
    search_fields = ["name", "description"]
    inlines = [PromptInline]


class EntryInline(admin.TabularInline):
    model = m.Entry
    extra = 0
    autocomplete_fields = ["competitor"]


@admin.register(m.Tournament)
class TournamentAdmin(admin.ModelAdmin):
    list_display = ["name", "format", "status", "created_at", "started_at", "finished_at"]
    list_filter = ["format", "status"]
    search_fields = ["name"]
    readonly_fields = ["created_at", "started_at", "finished_at", "results"]
    inlines = [EntryInline]
    filter_horizontal = ["prompt_sets"]


@admin.register(m.Round)
class RoundAdmin(admin.ModelAdmin):
    list_display = ["tournament", "number", "status", "prompt_set", "completed_at"]
    list_filter = ["status"]


@admin.register(m.Match)
class MatchAdmin(admin.ModelAdmin):
    list_display = ["id", "tournament", "round", "competitor_a", "competitor_b", "status", "outcome", "attempts", "updated_at"]
    list_filter = ["status", "outcome", "tournament"]
    search_fields = ["competitor_a__name", "competitor_b__name", "tournament__name"]
    readonly_fields = ["created_at", "updated_at", "finished_at", "attempts", "outcome"]
    list_select_related = ["tournament", "round", "competitor_a", "competitor_b"]


@admin.register(m.Generation)
class GenerationAdmin(ReadOnlyAdmin):
    list_display = ["match", "side", "competitor", "latency_ms", "completion_tokens", "cost", "created_at"]
    search_fields = ["competitor__name"]


@admin.register(m.Judgment)
class JudgmentAdmin(ReadOnlyAdmin):
    list_display = ["match", "judge", "order", "sample", "stage", "verdict", "outcome", "confidence", "created_at"]
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


@admin.register(m.ImportBatch)
class ImportBatchAdmin(ReadOnlyAdmin):
    list_display = ["id", "filename", "fmt", "n_rows", "n_battles", "skipped", "created_by", "created_at"]


@admin.register(m.LeaderboardSnapshot)
class LeaderboardSnapshotAdmin(ReadOnlyAdmin):
    list_display = ["method", "source", "category", "version", "n_battles", "n_models", "data_version", "created_at"]
    list_filter = ["method", "source", "category"]
