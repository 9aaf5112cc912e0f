"""``leaderboard/``: published snapshots, served from the cache with ETag and Cache-Control."""

from __future__ import annotations

import json

from django.db.models import Max
from django.http import HttpResponse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from arena.api.serializers import (
    ErrorSerializer,
    LeaderboardIndexSerializer,
    LeaderboardQuerySerializer,
    LeaderboardSerializer,
)
from arena.exceptions import ApplicationError
from arena.models import LeaderboardSnapshot
from arena.selectors.leaderboard import leaderboard_get, leaderboard_latest_etag
from arena.services.leaderboard import SOURCES, leaderboard_methods, snapshot_etag
from arena.services.style_board import METHOD as STYLE_METHOD
from arena.services.style_board import PLAIN_METHOD

METHODS: tuple[str, ...] = leaderboard_methods()
LATEST_MAX_AGE = 5
VERSIONED_MAX_AGE = 86400


#: Rendered bodies by ETag (per process): a snapshot never changes once published, so a hot
#: leaderboard is serialised once, not on every request.
_RENDERED: dict[str, bytes] = {}
_RENDERED_MAX = 64


def rendered_forget() -> None:
    """Drop this process's rendered bodies (tests that rebuild a database under the same ETags)."""
    _RENDERED.clear()


def _render(etag: str, data: dict) -> bytes:
    body = _RENDERED.get(etag)
    if body is None:
        if len(_RENDERED) >= _RENDERED_MAX:
            _RENDERED.clear()
        body = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()
        _RENDERED[etag] = body
    return body


#: Validated query parameters by query string (per process): the serializer is the one source
#: of the rules, and a poll repeats the same few query strings.
_QUERIES: dict[str, dict] = {}
_QUERIES_MAX = 256


def _query(request: Request) -> dict:
    raw = request.META.get("QUERY_STRING", "")
    q = _QUERIES.get(raw)
    if q is None:
        query = LeaderboardQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        q = dict(query.validated_data)
        if q["method"] not in METHODS:
            raise ApplicationError(
                "Invalid input.",
                field_errors={
                    "method": [f"Must be one of {', '.join(METHODS)}; got {q['method']!r}."]
                },
            )
        if q.pop("style_control", False):
            if q["method"] not in (PLAIN_METHOD, STYLE_METHOD):
                raise ApplicationError(
                    "Invalid input.",
                    field_errors={
                        "style_control": [
                            f"Style control is computed for method={PLAIN_METHOD} only; "
                            f"got method={q['method']!r}."
                        ]
                    },
                )
            q["method"] = STYLE_METHOD
        if q["source"] not in SOURCES:
            raise ApplicationError(
                "Invalid input.",
                field_errors={
                    "source": [f"Must be one of {', '.join(SOURCES)}; got {q['source']!r}."]
                },
            )
        if len(_QUERIES) >= _QUERIES_MAX:
            _QUERIES.clear()
        _QUERIES[raw] = q
    return q


def _respond(body: bytes | None, etag: str, *, inm: str | None, versioned: bool) -> HttpResponse:
    """The snapshot's body (or 304 when ``If-None-Match`` names it) with its caching headers."""
    if inm and _matches(inm, etag):
        response: HttpResponse = Response(status=304)
    else:
        assert body is not None
        response = HttpResponse(body, content_type="application/json")
    response["ETag"] = etag
    response["Cache-Control"] = (
        f"public, max-age={VERSIONED_MAX_AGE}, immutable"
        if versioned
        else f"public, max-age={LATEST_MAX_AGE}"
    )
    return response


def _matches(header: str, etag: str) -> bool:
    if header.strip() == "*":
        return True
    candidates = [c.strip() for c in header.split(",")]
    return any(c == etag or c == "W/" + etag for c in candidates)


class LeaderboardView(APIView):
    permission_classes = [AllowAny]
    renderer_classes = [JSONRenderer]  # hot path: no content negotiation over the browsable API

    @extend_schema(
        parameters=[LeaderboardQuerySerializer],
        responses={
            200: LeaderboardSerializer,
            304: OpenApiResponse(description="Not modified (If-None-Match matched the ETag)"),
            404: OpenApiResponse(
                ErrorSerializer, description="No snapshot published for this scope yet"
            ),
        },
        summary="A published leaderboard snapshot (latest, or ?version=N)",
    )
    def get(self, request: Request) -> HttpResponse:
        q = _query(request)
        version = q.get("version")
        inm = request.headers.get("If-None-Match")
        if version is None:
            # The hot path: the latest version's ETag is a small cache entry; a client that has
            # it gets 304, and a body this process rendered before is reused as it is.
            etag = leaderboard_latest_etag(
                method=q["method"], source=q["source"], category=q["category"]
            )
            if etag is not None and ((inm and _matches(inm, etag)) or etag in _RENDERED):
                return _respond(_RENDERED.get(etag), etag, inm=inm, versioned=False)
        data = leaderboard_get(
            method=q["method"], source=q["source"], category=q["category"], version=version
        )
        if data is None:
            what = f"version {version} of " if version else ""
            raise ApplicationError(
                f"No {what}leaderboard is published for method={q['method']}, "
                f"source={q['source']}, "
                f"category={q['category']} yet; leaderboards appear once battles have been rated "
                "(see leaderboard/available/).",
                code="not_found",
                status=404,
            )
        etag = snapshot_etag(data)
        return _respond(_render(etag, data), etag, inm=inm, versioned=version is not None)


class LeaderboardIndexView(APIView):
    permission_classes = [AllowAny]
    pagination_class = None

    @extend_schema(
        responses=LeaderboardIndexSerializer,
        summary="Which methods, sources and categories have snapshots",
    )
    def get(self, request: Request) -> Response:
        rows = list(
            LeaderboardSnapshot.objects.values("method", "source", "category")
            .annotate(latest_version=Max("version"))
            .order_by("method", "source", "category")
        )
        return Response(
            {
                "methods": list(METHODS),
                "sources": list(SOURCES),
                "categories": sorted({r["category"] for r in rows} | {"all"}),
                "available": rows,
            }
        )
