from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from arena.models import Competitor
from arena.selectors.leaderboard import leaderboard_get


def home(request: HttpRequest) -> HttpResponse:
    snapshot = leaderboard_get(method="bt")
    competitors = Competitor.objects.filter(status=Competitor.Status.ACTIVE).order_by("name")
    return render(request, "home.html", {"snapshot": snapshot, "competitors": competitors})
