"""Accounts: who am I, my API keys, and (staff) user creation with a first key."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from arena.api.permissions import IsStaff
from arena.api.serializers import (
    ApiKeyCreateSerializer,
    ApiKeyIssuedSerializer,
    ApiKeySerializer,
    UserCreateSerializer,
    UserSerializer,
    UserWithKeySerializer,
)
from arena.models import ApiKey
from arena.services.accounts import api_key_issue, api_key_revoke, user_create


def _issued(key: ApiKey, raw: str) -> dict[str, Any]:
    data = dict(ApiKeySerializer(key).data)
    data["key"] = raw
    return data


class MeView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses=UserSerializer, summary="The authenticated account")
    def get(self, request: Request) -> Response:
        return Response(UserSerializer(request.user).data)


@extend_schema_view(
    list=extend_schema(summary="My API keys (active and revoked; never the raw key)"),
    retrieve=extend_schema(summary="One of my API keys"),
    create=extend_schema(
        request=ApiKeyCreateSerializer,
        responses={201: ApiKeyIssuedSerializer},
        summary="Issue a new API key (the raw key is in this response only)",
    ),
    destroy=extend_schema(summary="Revoke an API key (the record is kept for the audit trail)"),
)
class ApiKeyViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = ApiKeySerializer
    permission_classes = [IsAuthenticated]
    ordering = ["-created_at"]

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):
            return ApiKey.objects.none()
        user = self.request.user  # a User: IsAuthenticated refused anonymous requests
        return ApiKey.objects.filter(user=user).order_by(  # type: ignore[misc]
            "-created_at", "-id"
        )

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = ApiKeyCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        key, raw = api_key_issue(user=request.user, name=serializer.validated_data["name"])
        return Response(_issued(key, raw), status=status.HTTP_201_CREATED)

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        api_key_revoke(api_key=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema_view(
    list=extend_schema(summary="All accounts (admin)"),
    retrieve=extend_schema(summary="One account (admin)"),
    create=extend_schema(
        request=UserCreateSerializer,
        responses={201: UserWithKeySerializer},
        summary="Create an account with a first API key (admin)",
    ),
)
class UserViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = UserSerializer
    permission_classes = [IsStaff]
    queryset = get_user_model().objects.order_by("id")

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = UserCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user, key, raw = user_create(**serializer.validated_data)
        return Response(
            {"user": UserSerializer(user).data, "api_key": _issued(key, raw)},
            status=status.HTTP_201_CREATED,
        )
