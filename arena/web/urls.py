"""HTML pages (owned by the web pages work, issue 8)."""

from django.urls import path

from arena.web import judge_views, staff, views

urlpatterns = [
    path("", views.home, name="home"),
    path("leaderboard.json", views.leaderboard_json, name="leaderboard-json"),
    path("vote", views.vote, name="vote"),
    path("vote/kwise", views.vote_kwise, name="vote-kwise"),
    path("models/", views.models_list, name="models"),
    path("models/<int:pk>/", views.model_detail, name="model-detail"),
    path("judges/", views.judges_list, name="judges"),
    path("judges/runs/<int:pk>/", judge_views.judge_run_detail, name="judge-run"),
    path("judges/stability/", judge_views.judge_stability, name="judge-stability"),
    path("tournaments/", views.tournaments_list, name="tournaments"),
    path("tournaments/<int:pk>/", views.tournament_detail, name="tournament-detail"),
    path("staff/tournaments/new", staff.tournament_new, name="staff-tournament-new"),
]
