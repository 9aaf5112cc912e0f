"""``models/``: submission, model cards, status changes and statistics."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import filters, mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import IsAuthenticatedOrReadOnly
from rest_framework.request import Request
from rest_framework.response import Response

from arena.api.choice_filters import choice_filter
from arena.api.permissions import IsOwnerOrStaff, IsStaff, ReadOnly
from arena.api.serializers import (
    CompetitorInputSerializer,
    CompetitorPricesSerializer,
    CompetitorSerializer,
    CompetitorStatsSerializer,
    CompetitorUpdateSerializer,
    CompetitorUsageSerializer,
    PriceInputSerializer,
    RatingCostSerializer,
)
from arena.models import Competitor
from arena.selectors.competitors import competitor_list, competitor_stats
from arena.selectors.prices import competitor_prices
from arena.selectors.usage import competitor_rating_cost, competitor_usage
from arena.services.competitors import (
    competitor_activate,
    competitor_submit,
    competitor_update,
    competitor_withdraw,
)
from arena.services.prices import price_set

_FILTERS = [
    OpenApiParameter(
        "status",
        str,
        enum=[s for s, _ in Competitor.Status.choices],
        description="Filter by status.",
    ),
    OpenApiParameter(
        "kind", str, enum=[k for k, _ in Competitor.Kind.choices], description="Filter by kind."
    ),
    OpenApiParameter("owner", str, description="Owner's username, or `me`."),
    OpenApiParameter("provider", str, description="Exact provider name."),
]


@extend_schema_view(
    list=extend_schema(parameters=_FILTERS, summary="Models visible to you"),
    retrieve=extend_schema(summary="A model card"),
    create=extend_schema(
        request=CompetitorInputSerializer,
        responses={201: CompetitorSerializer},
        summary="Submit a model (starts pending until an admin activates it)",
    ),
    partial_update=extend_schema(
        request=CompetitorUpdateSerializer,
        responses=CompetitorSerializer,
        summary="Edit your model",
    ),
)
class CompetitorViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = CompetitorSerializer
    permission_classes = [IsAuthenticatedOrReadOnly & (ReadOnly | IsOwnerOrStaff)]
    filter_backends = [filters.SearchFilter, filters.OrderingFilter]
    search_fields = ["name", "provider", "description"]
    ordering_fields = ["name", "created_at", "updated_at", "status", "provider"]
    ordering = ["name"]
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self) -> QuerySet[Competitor]:
        qs = competitor_list(user=self.request.user)
        params = self.request.query_params
        if self.action == "list":
            qs = choice_filter(
                qs, params, {"status": Competitor.Status.values, "kind": Competitor.Kind.values}
            )
            owner = params.get("owner")
            if owner == "me":
                qs = (
                    qs.filter(owner_id=self.request.user.pk)
                    if self.request.user.is_authenticated
                    else qs.none()
                )
            elif owner:
                qs = qs.filter(owner__username=owner)
            if params.get("provider"):
                qs = qs.filter(provider=params["provider"])
        return qs

    def _is_admin(self) -> bool:
        return bool(self.request.user.is_authenticated and self.request.user.is_staff)

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = CompetitorInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        competitor = competitor_submit(
            owner=request.user, data=serializer.validated_data, is_admin=self._is_admin()
        )
        return Response(self.get_serializer(competitor).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        competitor = self.get_object()
        serializer = CompetitorUpdateSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        competitor = competitor_update(
            competitor=competitor, data=serializer.validated_data, is_admin=self._is_admin()
        )
        return Response(self.get_serializer(competitor).data)

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:  # PUT is not offered
        return self.partial_update(request, *args, **kwargs)

    @extend_schema(
        request=None, responses=CompetitorSerializer, summary="Withdraw your model (owner or admin)"
    )
    @action(detail=True, methods=["post"], permission_classes=[IsOwnerOrStaff])
    def withdraw(self, request: Request, pk: str | None = None) -> Response:
        competitor = competitor_withdraw(competitor=self.get_object())
        return Response(self.get_serializer(competitor).data)

    @extend_schema(request=None, responses=CompetitorSerializer, summary="Activate a model (admin)")
    @action(detail=True, methods=["post"], permission_classes=[IsStaff])
    def activate(self, request: Request, pk: str | None = None) -> Response:
        competitor = competitor_activate(competitor=self.get_object())
        return Response(self.get_serializer(competitor).data)

    @extend_schema(
        responses=CompetitorStatsSerializer,
        summary="Battles, win rate and rating history (Bradley-Terry, all sources, all categories)",
    )
    @action(detail=True, methods=["get"], permission_classes=[ReadOnly])
    def stats(self, request: Request, pk: str | None = None) -> Response:
        return Response(
            CompetitorStatsSerializer(competitor_stats(competitor=self.get_object())).data
        )

    @extend_schema(
        responses=CompetitorUsageSerializer,
        summary="Latency (p50, p95), tokens and cost per answer, with 95 % intervals",
    )
    @action(detail=True, methods=["get"], permission_classes=[ReadOnly])
    def usage(self, request: Request, pk: str | None = None) -> Response:
        return Response(
            CompetitorUsageSerializer(competitor_usage(competitor=self.get_object())).data
        )

    @extend_schema(
        responses=RatingCostSerializer,
        summary="Each public model's Bradley-Terry rating beside its mean cost per battle",
    )
    @action(
        detail=False,
        methods=["get"],
        url_path="rating-cost",
        permission_classes=[ReadOnly],
        filter_backends=[],
        pagination_class=None,
    )
    def rating_cost(self, request: Request) -> Response:
        return Response(RatingCostSerializer(competitor_rating_cost()).data)

    @extend_schema(
        methods=["GET"],
        responses=CompetitorPricesSerializer,
        summary="A model's admin price (per million tokens) and its history",
    )
    @extend_schema(
        methods=["POST"],
        request=PriceInputSerializer,
        responses={201: CompetitorPricesSerializer, 200: CompetitorPricesSerializer},
        summary=(
            "Set a model's price (admin): used for the cost of its answers from now on; "
            "200 when it equals the current price"
        ),
    )
    @action(detail=True, methods=["get", "post"], permission_classes=[ReadOnly | IsStaff])
    def price(self, request: Request, pk: str | None = None) -> Response:
        competitor = self.get_object()
        code: int = status.HTTP_200_OK
        if request.method == "POST":
            serializer = PriceInputSerializer(data=request.data)
            serializer.is_valid(raise_exception=True)
            _, created = price_set(
                competitor=competitor,
                set_by=request.user.get_username(),
                **serializer.validated_data,
            )
            code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
        return Response(
            CompetitorPricesSerializer(competitor_prices(competitor_id=competitor.pk)).data,
            status=code,
        )
