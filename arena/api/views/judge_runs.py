"""``judge-runs/``: re-judge stored matches with another pipeline (admins create; all read)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from arena.api.permissions import IsStaff, ReadOnly
from arena.api.serializers import (
    JudgeRunCreateSerializer,
    JudgeRunDetailSerializer,
    JudgeRunSerializer,
)
from arena.models import JudgeRun
from arena.selectors.judge_runs import judge_run_dict
from arena.services.judge_runs import judge_run_create


@extend_schema_view(
    list=extend_schema(summary="Judge runs (re-judgings of stored matches)"),
    retrieve=extend_schema(
        responses=JudgeRunDetailSerializer, summary="A judge run with its judge board"
    ),
    create=extend_schema(
        request=JudgeRunCreateSerializer,
        responses={201: JudgeRunDetailSerializer},
        summary="Re-judge stored matches with another judge pipeline (admin)",
        description="Give exactly one of `tournament`, `arena` or `matches`. The run's judges "
        "first pass the drift gate on the calibration set; the run then judges every match on "
        "the workers and computes its board. The original outcomes and boards do not change.",
    ),
)
class JudgeRunViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    permission_classes = [ReadOnly | IsStaff]
    serializer_class = JudgeRunSerializer
    queryset = JudgeRun.objects.order_by("-created_at", "-id")

    def get_queryset(self) -> QuerySet[JudgeRun]:
        qs = JudgeRun.objects.order_by("-created_at", "-id")
        return qs.defer("board", "match_ids") if self.action == "list" else qs

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        rows = [judge_run_dict(run=run, board=False) for run in (page or [])]
        return self.get_paginated_response(rows)

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return Response(judge_run_dict(run=self.get_object(), board=True))

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        payload = JudgeRunCreateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        run = judge_run_create(
            name=data["name"],
            pipeline=data["judge_pipeline"],
            tournament_id=data.get("tournament"),
            arena=data.get("arena", False),
            match_ids=data.get("matches"),
            calibration_set=data.get("calibration_set"),
            created_by=request.user,
        )
        run.refresh_from_db()
        return Response(judge_run_dict(run=run, board=True), status=status.HTTP_201_CREATED)
