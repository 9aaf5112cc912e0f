"""``judges/``: per-judge reliability (position bias, swap inconsistency, decisiveness,
agreement with human votes), the same read as the judges page."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from arena.api.serializers import (
    JudgeListSerializer,
    StabilityQuerySerializer,
    StabilitySerializer,
)
from arena.selectors.judges import judge_list
from arena.selectors.rank_stability import stability_report


class JudgeListView(APIView):
    permission_classes = [AllowAny]
    pagination_class = None

    @extend_schema(
        responses=JudgeListSerializer,
        summary="Reliability of every judge, each share with its 95 % interval",
        description="One row per judge identity found in stored verdicts (a short list, not "
        "paginated); `methodology` states how each figure and interval is computed.",
    )
    def get(self, request: Request) -> Response:
        return Response(judge_list())


class JudgeStabilityView(APIView):
    permission_classes = [AllowAny]
    pagination_class = None

    @extend_schema(
        parameters=[StabilityQuerySerializer],
        responses=StabilitySerializer,
        summary="Rank stability between two boards (judge runs, the main or a source board)",
        description="Kendall's tau with its interval, the largest rank moves and the pairs "
        "whose order flips (significant when both boards' intervals separate them).",
    )
    def get(self, request: Request) -> Response:
        query = StabilityQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        return Response(stability_report(a=query.validated_data["a"], b=query.validated_data["b"]))
