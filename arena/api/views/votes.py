"""``battles/next/`` and ``votes/``: the anonymous vote flow.

What a browser page must send (the web vote page does exactly this):

1. ``GET /api/v1/battles/next/?category=...`` with ``credentials: "same-origin"``. An
   anonymous browser receives the ``ludus_voter`` cookie (HttpOnly, signed) with its first
   battle; a logged-in user votes as themself.
2. ``POST /api/v1/votes/`` with ``Content-Type: application/json``, the body
   ``{"token": <token from step 1>, "outcome": "A"|"B"|"tie"|"bothbad"}``, the same cookies,
   an ``Idempotency-Key`` header (a fresh UUID per vote, reused on retries), and, for a
   logged-in session, the ``X-CSRFToken`` header (Django's CSRF cookie value). DRF enforces
   CSRF only for session-authenticated users; an anonymous vote is bound to its cookie and
   token, and the cookie is SameSite=Lax, so a cross-site form cannot cast it.
"""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from arena.api.idempotency import idempotent
from arena.api.serializers import (
    BattleQuerySerializer,
    ErrorSerializer,
    ServedBattleSerializer,
    VoteInputSerializer,
    VoteResultSerializer,
)
from arena.api.throttles import BattleThrottle, VoteThrottle
from arena.api.voters import (
    request_ip_hash,
    set_voter_cookie,
    voter_hash_required,
    voter_identity,
)
from arena.services.votes import battle_next, vote_record


class BattleNextView(APIView):
    permission_classes = [AllowAny]
    renderer_classes = [JSONRenderer]  # hot path: no content negotiation over the browsable API
    throttle_classes = [BattleThrottle]

    @extend_schema(
        parameters=[BattleQuerySerializer],
        responses={
            200: ServedBattleSerializer,
            404: OpenApiResponse(ErrorSerializer, description="No battle left"),
        },
        summary=(
            "An anonymous battle for this voter (sets the ludus_voter cookie for anonymous clients)"
        ),
    )
    def get(self, request: Request) -> Response:
        query = BattleQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        category = query.validated_data.get("category", "")
        voter_hash, new_cookie = voter_identity(request, create=True)
        assert voter_hash is not None
        served = battle_next(voter_hash=voter_hash, category=category or None)
        response = Response(
            {
                "token": served.token,
                "expires_in": served.expires_in,
                "prompt": served.prompt,
                "category": served.category,
                "answer_a": served.answer_a,
                "answer_b": served.answer_b,
            }
        )
        response["Cache-Control"] = "no-store"
        if new_cookie:
            set_voter_cookie(response, new_cookie, secure=request.is_secure())
        return response


class VoteView(APIView):
    permission_classes = [AllowAny]
    renderer_classes = [JSONRenderer]  # hot path: no content negotiation over the browsable API
    throttle_classes = [VoteThrottle]

    @extend_schema(
        request=VoteInputSerializer,
        parameters=[
            OpenApiParameter(
                "Idempotency-Key",
                OpenApiTypes.STR,
                OpenApiParameter.HEADER,
                description=(
                    "A retry with the same key returns the first response and never counts twice."
                ),
            )
        ],
        responses={
            201: VoteResultSerializer,
            400: ErrorSerializer,
            403: ErrorSerializer,
            409: ErrorSerializer,
            422: ErrorSerializer,
        },
        summary="Vote on a served battle; the response reveals both models",
    )
    def post(self, request: Request) -> Response:
        voter_hash = voter_hash_required(request, next_path="battles/next/")

        def handler() -> Response:
            vote_input = VoteInputSerializer(data=request.data)
            vote_input.is_valid(raise_exception=True)
            recorded = vote_record(
                token=vote_input.validated_data["token"],
                choice=vote_input.validated_data["outcome"],
                voter_hash=voter_hash,
                ip_hash=request_ip_hash(request),
            )
            data = {
                "vote_id": recorded.vote.pk,
                "battle_id": recorded.battle.pk,
                "outcome": recorded.choice,
                "recorded_outcome": recorded.vote.outcome,
                "model_a": recorded.model_a,
                "model_b": recorded.model_b,
                "category": recorded.battle.category,
                "created_at": recorded.vote.created_at.isoformat(),
            }
            return Response(data, status=status.HTTP_201_CREATED)

        return idempotent(request, scope=voter_hash[:64], handler=handler)
