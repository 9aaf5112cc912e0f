"""``judges/``: per-judge reliability (position bias, swap inconsistency, decisiveness,
agreement with human votes), the same read as the judges page."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from arena.api.serializers import JudgeListSerializer
from arena.selectors.judges import judge_list


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
