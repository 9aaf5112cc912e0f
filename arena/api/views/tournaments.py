"""``tournaments/``: list and detail for everyone; create and control for admins.

Business logic lives in :mod:`arena.services.tournaments` and
:mod:`arena.selectors.tournaments`; these views only translate HTTP.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch, QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import filters, mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from arena.api.choice_filters import choice_filter
from arena.api.permissions import IsStaff, ReadOnly
from arena.api.serializers import (
    TournamentCreateSerializer,
    TournamentDetailSerializer,
    TournamentMatchQuerySerializer,
    TournamentMatchSerializer,
    TournamentSerializer,
)
from arena.formats import format_kinds
from arena.models import Entry, Tournament
from arena.selectors import tournaments as tournament_selectors
from arena.services import tournaments as tournament_services

_STATUS_FILTER = OpenApiParameter(
    "status", str, enum=[s for s, _ in Tournament.Status.choices], description="Filter by status."
)
_FORMAT_FILTER = OpenApiParameter(
    "format", str, enum=list(format_kinds()), description="Filter by format."
)


@extend_schema_view(
    list=extend_schema(parameters=[_STATUS_FILTER, _FORMAT_FILTER], summary="Tournaments"),
    retrieve=extend_schema(summary="A tournament with its final results (when finished)"),
    create=extend_schema(
        request=TournamentCreateSerializer,
        responses={201: TournamentDetailSerializer},
        summary="Create a draft tournament (admin)",
    ),
)
class TournamentViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    permission_classes = [ReadOnly | IsStaff]
    filter_backends = [filters.OrderingFilter, filters.SearchFilter]
    ordering_fields = ["created_at", "name", "status", "started_at"]
    ordering = ["-created_at"]
    search_fields = ["name"]

    def get_serializer_class(self) -> Any:
        return TournamentDetailSerializer if self.action == "retrieve" else TournamentSerializer

    def get_queryset(self) -> QuerySet[Tournament]:
        qs = Tournament.objects.select_related("created_by").prefetch_related(
            "prompt_sets",
            Prefetch(
                "entries", queryset=Entry.objects.select_related("competitor").order_by("seed")
            ),
        )
        if self.action == "list":
            qs = choice_filter(
                qs,
                self.request.query_params,
                {"status": Tournament.Status.values, "format": format_kinds()},
            )
        return qs

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        payload = TournamentCreateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        tournament = tournament_services.tournament_create(
            created_by=request.user, **payload.validated_data
        )
        tournament = self.get_queryset().get(pk=tournament.pk)
        return Response(TournamentDetailSerializer(tournament).data, status=status.HTTP_201_CREATED)

    def _control(self, operation: str) -> Response:
        tournament = self.get_object()
        getattr(tournament_services, f"tournament_{operation}")(tournament=tournament)
        return Response(TournamentDetailSerializer(self.get_queryset().get(pk=tournament.pk)).data)

    @extend_schema(
        request=None,
        responses=TournamentDetailSerializer,
        summary="Start a draft tournament (admin)",
    )
    @action(detail=True, methods=["post"], permission_classes=[IsStaff])
    def start(self, request: Request, pk: str | None = None) -> Response:
        return self._control("start")

    @extend_schema(
        request=None,
        responses=TournamentDetailSerializer,
        summary="Pause a running tournament (admin)",
    )
    @action(detail=True, methods=["post"], permission_classes=[IsStaff])
    def pause(self, request: Request, pk: str | None = None) -> Response:
        return self._control("pause")

    @extend_schema(
        request=None,
        responses=TournamentDetailSerializer,
        summary="Resume a paused tournament (admin)",
    )
    @action(detail=True, methods=["post"], permission_classes=[IsStaff])
    def resume(self, request: Request, pk: str | None = None) -> Response:
        return self._control("resume")

    @extend_schema(
        request=None, responses=TournamentDetailSerializer, summary="Cancel a tournament (admin)"
    )
    @action(detail=True, methods=["post"], permission_classes=[IsStaff])
    def cancel(self, request: Request, pk: str | None = None) -> Response:
        return self._control("cancel")

    @extend_schema(
        responses=OpenApiTypes.OBJECT, summary="Progress: round, matches done, in flight, failed"
    )
    @action(detail=True, methods=["get"], permission_classes=[ReadOnly])
    def progress(self, request: Request, pk: str | None = None) -> Response:
        return Response(tournament_services.tournament_progress(tournament=self.get_object()))

    @extend_schema(
        parameters=[TournamentMatchQuerySerializer],
        responses=TournamentMatchSerializer(many=True),
        summary="The tournament's matches by round (prompts and answers only once judged)",
    )
    @action(detail=True, methods=["get"], permission_classes=[ReadOnly], filter_backends=[])
    def matches(self, request: Request, pk: str | None = None) -> Response:
        query = TournamentMatchQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        rows = tournament_selectors.tournament_matches(
            tournament=self.get_object(),
            round_number=query.validated_data.get("round"),
            include_details=query.validated_data["details"],
        )
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(TournamentMatchSerializer(page, many=True).data)

    @extend_schema(responses=OpenApiTypes.OBJECT, summary="Standings with tie-breaks")
    @action(detail=True, methods=["get"], permission_classes=[ReadOnly])
    def standings(self, request: Request, pk: str | None = None) -> Response:
        return Response(tournament_selectors.tournament_standings(tournament=self.get_object()))

    @extend_schema(
        responses=OpenApiTypes.OBJECT,
        summary="Bracket (single elimination) with reach probabilities",
    )
    @action(detail=True, methods=["get"], permission_classes=[ReadOnly])
    def bracket(self, request: Request, pk: str | None = None) -> Response:
        return Response(tournament_selectors.tournament_bracket(tournament=self.get_object()))

    @extend_schema(
        responses=OpenApiTypes.OBJECT,
        summary="Predicted final scores E[S] (points so far plus expected points to come), "
        "P(first), survival",
    )
    @action(detail=True, methods=["get"], permission_classes=[ReadOnly])
    def simulation(self, request: Request, pk: str | None = None) -> Response:
        return Response(tournament_selectors.tournament_prediction(tournament=self.get_object()))
