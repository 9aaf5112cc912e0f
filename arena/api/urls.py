"""API routes: ``/api/v1/...``, the OpenAPI schema ``/api/schema/``, Swagger UI ``/api/docs/``."""

from django.urls import URLPattern, URLResolver, include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import DefaultRouter

from arena.api.views.accounts import ApiKeyViewSet, MeView, UserViewSet
from arena.api.views.battles_io import BattleExportView, BattleImportView, PublicVoteExportView
from arena.api.views.competitors import CompetitorViewSet
from arena.api.views.judge_runs import JudgeRunViewSet
from arena.api.views.judges import JudgeListView, JudgeStabilityView
from arena.api.views.kwise import KwiseNextView, KwiseVoteView
from arena.api.views.leaderboard import LeaderboardIndexView, LeaderboardView
from arena.api.views.tournaments import TournamentViewSet
from arena.api.views.votes import BattleNextView, VoteView

router = DefaultRouter()
router.register("models", CompetitorViewSet, basename="model")
router.register("tournaments", TournamentViewSet, basename="tournament")
router.register("judge-runs", JudgeRunViewSet, basename="judge-run")
router.register("accounts/keys", ApiKeyViewSet, basename="api-key")
router.register("accounts/users", UserViewSet, basename="user")

v1: list[URLPattern | URLResolver] = [
    path("accounts/me/", MeView.as_view(), name="me"),
    path("battles/next/", BattleNextView.as_view(), name="battle-next"),
    path("votes/", VoteView.as_view(), name="vote"),
    path("battles/kwise/next/", KwiseNextView.as_view(), name="kwise-next"),
    path("votes/kwise/", KwiseVoteView.as_view(), name="kwise-vote"),
    path("judges/", JudgeListView.as_view(), name="judges"),
    path("judges/stability/", JudgeStabilityView.as_view(), name="judges-stability"),
    path("leaderboard/", LeaderboardView.as_view(), name="leaderboard"),
    path("leaderboard/available/", LeaderboardIndexView.as_view(), name="leaderboard-available"),
    path("battles/import/", BattleImportView.as_view(), name="battle-import"),
    path("battles/export/", BattleExportView.as_view(), name="battle-export"),
    path("battles/export/public/", PublicVoteExportView.as_view(), name="battle-export-public"),
    path("", include(router.urls)),
]

urlpatterns = [
    path("v1/", include((v1, "api"), namespace="v1")),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
]
