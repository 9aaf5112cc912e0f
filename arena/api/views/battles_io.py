"""``battles/import/`` and ``battles/export/`` (admins); ``battles/export/public/`` (anyone)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.parsers import BaseParser, MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from arena.api.permissions import IsStaff
from arena.api.serializers import (
    ErrorSerializer,
    ExportQuerySerializer,
    ImportQuerySerializer,
    ImportReportSerializer,
    ImportUploadSerializer,
    PublicExportQuerySerializer,
)
from arena.exceptions import ApplicationError
from arena.services.battles_io import battles_export, battles_export_public, battles_import

_CONTENT_TYPES = {"jsonl": "application/x-ndjson", "csv": "text/csv", "pairs": "text/csv"}


def import_max_bytes() -> int:
    """Largest accepted import (``settings.LUDUS_IMPORT_MAX_BYTES``, 512 MiB by default)."""
    return settings.LUDUS_IMPORT_MAX_BYTES


class RawFileParser(BaseParser):
    """Accepts a battle file as the raw request body; the view streams it itself."""

    media_type = "*/*"

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        return {}


class _RawJSON(RawFileParser):
    media_type = "application/json"


class _RawNDJSON(RawFileParser):
    media_type = "application/x-ndjson"


class _RawCSV(RawFileParser):
    media_type = "text/csv"


def _too_large(size: int) -> ApplicationError:
    return ApplicationError(
        f"The file is {size} bytes; the limit is {import_max_bytes()} bytes "
        "(LUDUS_IMPORT_MAX_BYTES). "
        "Nothing was imported.",
        code="too_large",
        status=413,
    )


class BattleImportView(APIView):
    permission_classes = [IsStaff]
    parser_classes = [MultiPartParser, _RawJSON, _RawNDJSON, _RawCSV, RawFileParser]

    @extend_schema(
        parameters=[ImportQuerySerializer],
        request={
            "multipart/form-data": ImportUploadSerializer,
            "application/json": OpenApiTypes.ANY,
            "application/x-ndjson": OpenApiTypes.STR,
            "text/csv": OpenApiTypes.STR,
        },
        responses={
            201: ImportReportSerializer,
            400: OpenApiResponse(
                ErrorSerializer, description="Malformed file (line numbers in error.errors)"
            ),
            413: ErrorSerializer,
        },
        summary="Import a battle file (records or pair counts), all or nothing unless skip_invalid",
    )
    def post(self, request: Request) -> Response:
        options = ImportQuerySerializer(data=request.query_params)
        options.is_valid(raise_exception=True)
        limit = import_max_bytes()
        content_type = request.content_type or ""
        if content_type.startswith("multipart/form-data"):
            upload = request.FILES.get("file")
            if upload is None:
                raise ApplicationError(
                    "Invalid input.",
                    field_errors={"file": ["Send the battle file in the 'file' form field."]},
                )
            if upload.size is not None and upload.size > limit:
                raise _too_large(upload.size)
            source: Any = upload
            filename = upload.name or ""
        else:
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = 0
            if length > limit:
                raise _too_large(length)
            if length <= 0:
                raise ApplicationError(
                    "The request has no file: send it as the body or in a multipart 'file' field.",
                    code="empty_file",
                )
            source = request._request  # a Django request is a readable stream of its body
            filename = ""
        report = battles_import(
            source=source, filename=filename, created_by=request.user, **options.validated_data
        )
        return Response(ImportReportSerializer(report).data, status=status.HTTP_201_CREATED)


class BattleExportView(APIView):
    permission_classes = [IsStaff]

    @extend_schema(
        parameters=[ExportQuerySerializer],
        responses={
            (200, "application/x-ndjson"): OpenApiTypes.STR,
            (200, "text/csv"): OpenApiTypes.STR,
        },
        summary=(
            "Stream the battles (or exactly those behind ?snapshot=<id>) as JSON Lines, CSV "
            "or pair counts"
        ),
    )
    def get(self, request: Request) -> StreamingHttpResponse:
        query = ExportQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        fmt = query.validated_data["format"]
        chunks = battles_export(
            fmt=fmt,
            source=query.validated_data.get("source"),
            category=query.validated_data.get("category"),
            snapshot=query.validated_data.get("snapshot"),
        )
        return _stream(chunks, fmt, "battles")


class PublicVoteExportView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(
        parameters=[PublicExportQuerySerializer],
        responses={
            (200, "application/x-ndjson"): OpenApiTypes.STR,
            (200, "text/csv"): OpenApiTypes.STR,
        },
        summary="The rated human votes behind the public boards (no voter identity), for anyone",
    )
    def get(self, request: Request) -> StreamingHttpResponse:
        query = PublicExportQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        fmt = query.validated_data["format"]
        return _stream(battles_export_public(fmt=fmt), fmt, "human-votes")


def _stream(chunks: Any, fmt: str, name: str) -> StreamingHttpResponse:
    response = StreamingHttpResponse(chunks, content_type=_CONTENT_TYPES[fmt] + "; charset=utf-8")
    extension = "jsonl" if fmt == "jsonl" else "csv"
    response["Content-Disposition"] = f'attachment; filename="{name}-{fmt}.{extension}"'
    return response
