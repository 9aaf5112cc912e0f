"""``battles/kwise/next/`` and ``votes/kwise/``: the anonymous K-wise vote flow (K-Sort Arena).

The same contract as the pairwise flow (:mod:`arena.api.views.votes`): the ``ludus_voter``
cookie from the first fetch, a signed single-use token, an ``Idempotency-Key`` header on the
vote (the same key never counts twice), CSRF for session users. The body of a vote is
``{"token": ..., "ranking": ["C", "A", "D", "B"]}``: every served label once, best first.
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
    ErrorSerializer,
    KwiseQuerySerializer,
    KwiseVoteInputSerializer,
    KwiseVoteResultSerializer,
    ServedKwiseSerializer,
)
from arena.api.throttles import BattleThrottle, VoteThrottle
from arena.api.voters import (
    request_ip_hash,
    set_voter_cookie,
    voter_hash_required,
    voter_identity,
)
from arena.services.kwise import kwise_battle_next, kwise_labels, kwise_vote_record


class KwiseNextView(APIView):
    permission_classes = [AllowAny]
    renderer_classes = [JSONRenderer]
    throttle_classes = [BattleThrottle]

    @extend_schema(
        parameters=[KwiseQuerySerializer],
        responses={
            200: ServedKwiseSerializer,
            400: ErrorSerializer,
            404: OpenApiResponse(ErrorSerializer, description="No K-wise battle available"),
        },
        summary="K anonymous answers to one prompt to rank (sets the ludus_voter cookie)",
    )
    def get(self, request: Request) -> Response:
        query = KwiseQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        voter_hash, new_cookie = voter_identity(request, create=True)
        assert voter_hash is not None
        served = kwise_battle_next(
            voter_hash=voter_hash,
            k=int(query.validated_data["k"]),
            category=query.validated_data.get("category") or None,
        )
        response = Response(
            {
                "token": served.token,
                "expires_in": served.expires_in,
                "prompt": served.prompt,
                "category": served.category,
                "k": len(served.answers),
                "answers": served.answers,
            }
        )
        response["Cache-Control"] = "no-store"
        if new_cookie:
            set_voter_cookie(response, new_cookie, secure=request.is_secure())
        return response


class KwiseVoteView(APIView):
    permission_classes = [AllowAny]
    renderer_classes = [JSONRenderer]
    throttle_classes = [VoteThrottle]

    @extend_schema(
        request=KwiseVoteInputSerializer,
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
            201: KwiseVoteResultSerializer,
            400: ErrorSerializer,
            403: ErrorSerializer,
            409: ErrorSerializer,
            422: ErrorSerializer,
        },
        summary="Rank the answers of a served K-wise battle; the response reveals the models",
    )
    def post(self, request: Request) -> Response:
        voter_hash = voter_hash_required(request, next_path="battles/kwise/next/")

        def handler() -> Response:
            vote_input = KwiseVoteInputSerializer(data=request.data)
            vote_input.is_valid(raise_exception=True)
            recorded = kwise_vote_record(
                token=vote_input.validated_data["token"],
                ranking=list(vote_input.validated_data["ranking"]),
                voter_hash=voter_hash,
                ip_hash=request_ip_hash(request),
            )
            battle = recorded.battle
            data = {
                "kwise_battle_id": battle.pk,
                "k": battle.k,
                "ranking": recorded.ranking,
                "results": [
                    {"label": label, "model": recorded.models[label], "rank": recorded.ranks[label]}
                    for label in kwise_labels(battle.k)
                ],
                "category": battle.category,
                "created_at": battle.tstamp.isoformat(),
            }
            return Response(data, status=status.HTTP_201_CREATED)

        return idempotent(request, scope=voter_hash[:64], handler=handler)
