"""HTML pages and the small JSON feed the live leaderboard polls. Views are thin: selectors read."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlencode

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotModified, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_GET

from arena import models as m
from arena.selectors import web as sel
from arena.selectors.judge_runs import judge_run_dict, judge_runs_recent
from arena.selectors.judges import judge_list
from arena.selectors.leaderboard import leaderboard_get
from arena.selectors.rank_stability import board_choices
from arena.selectors.usage import competitor_rating_cost, competitor_usage
from arena.selectors.web_tournaments import tournament_list_rows, tournament_page_data
from arena.services.style_board import METHOD as STYLE_METHOD
from arena.services.style_board import PLAIN_METHOD as STYLE_PLAIN
from arena.web import charts

POLL_INTERVAL_MS = 2000
#: Scripts only from our own static files: even a markup bug could not run injected script.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)


def csp(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Send :data:`CONTENT_SECURITY_POLICY` with the page."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = view(request, *args, **kwargs)
        response.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        return response

    return wrapped


def _scope(request: HttpRequest) -> tuple[str, str, str]:
    """Method, source and category from the query string; unknown values fall back to defaults."""
    method = request.GET.get("method", "bt")[:32]
    source = request.GET.get("source", "combined")
    category = request.GET.get("category", sel.ALL)[:50] or sel.ALL
    if source not in sel.SOURCE_LABELS:
        source = "combined"
    if method == STYLE_PLAIN and request.GET.get("style_control", "").lower() in (
        "1",
        "true",
        "on",
    ):
        method = STYLE_METHOD
    return method, source, category


def _style_toggle(method: str, source: str, category: str) -> dict[str, Any] | None:
    """Links between the plain and the style-controlled Bradley-Terry boards (no script needed)."""
    if method not in (STYLE_PLAIN, STYLE_METHOD):
        return None
    scope = urlencode({"source": source, "category": category})
    return {
        "on": method == STYLE_METHOD,
        "plain_url": f"?method={STYLE_PLAIN}&{scope}",
        "style_url": f"?method={STYLE_PLAIN}&style_control=true&{scope}",
    }


def _live_payload(data: dict[str, Any], etag: str) -> dict[str, Any]:
    return {
        "etag": etag,
        "method": data["method"],
        "source": data["source"],
        "category": data["category"],
        "pending": data["pending"],
        "snapshot": data["snapshot"],
        "rows": [
            {
                k: r[k]
                for k in (
                    "rank",
                    "model",
                    "competitor_id",
                    "rating",
                    "lower",
                    "upper",
                    "battles",
                    "win_rate",
                    "owner",
                    "x",
                    "x_lo",
                    "x_w",
                    "rating_text",
                    "interval_text",
                    "win_rate_text",
                    "provisional",
                    "component",
                    "withdrawn",
                    "section",
                    "section_title",
                    "badges",
                )
            }
            for r in data["rows"]
        ],
    }


@csp
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    """The live leaderboard with its charts."""
    method, source, category = _scope(request)
    etag, snapshot, pending = sel.leaderboard_etag(method=method, source=source, category=category)
    data = sel.leaderboard_view_data(
        method=method, source=source, category=category, snapshot=snapshot, pending=pending
    )
    scopes = sel.leaderboard_scopes_available()
    rows = data["rows"]
    context: dict[str, Any] = {
        "nav": "leaderboard",
        "lb": data,
        "scopes": scopes,
        "available_methods": [x for x in scopes["methods"] if x["available"]],
        "missing_methods": [
            x for x in scopes["methods"] if not x["available"] and x["value"] in sel.METHOD_LABELS
        ],
        "live": _live_payload(data, etag),
        "style_toggle": _style_toggle(method, source, category),
        "poll_ms": POLL_INTERVAL_MS,
        "json_url": reverse("leaderboard-json"),
    }
    if rows:
        context["interval_svg"] = charts.interval_chart(
            rows, title=f"{data['method_label']} ratings with intervals"
        )
        max_battles = max(r["battles"] for r in rows) or 1
        context["battle_bars"] = [
            {
                "model": r["model"],
                "value": r["battles"],
                "pct": round(100 * r["battles"] / max_battles, 1),
            }
            for r in sorted(rows, key=lambda r: -r["battles"])
        ]
        heatmap = sel.leaderboard_heatmap(
            source=source,
            category=category,
            rows=rows,
            data_version=data["snapshot"]["data_version"],
        )
        if heatmap is not None:
            context["heatmap"] = heatmap
            context["heatmap_html"] = charts.heatmap_table(
                context["heatmap"],
                caption="Pairwise win rate of the row model against the column model",
            )
    alpha = (
        snapshot
        if method == "alpharank"
        else leaderboard_get(method="alpharank", source=source, category=category)
    )
    if alpha and alpha.get("ratings"):
        masses = sorted(
            ((r["model"], float(r.get("mass", r["rating"]))) for r in alpha["ratings"]),
            key=lambda x: -x[1],
        )
        top = max((v for _, v in masses), default=0.0) or 1.0
        shown = [(name, v) for name, v in masses if v >= 0.001]
        context["alpha_bars"] = [
            {"model": name, "value": f"{v:.3f}", "pct": round(100 * v / top, 1)}
            for name, v in shown
        ]
        context["alpha_rest"] = len(masses) - len(shown)
    return render(request, "arena/home.html", context)


@require_GET
def leaderboard_json(request: HttpRequest) -> HttpResponse:
    """The current leaderboard of a scope for live refresh; ``304`` when the ETag still matches."""
    method, source, category = _scope(request)
    etag, snapshot, pending = sel.leaderboard_etag(method=method, source=source, category=category)
    quoted = f'"{etag}"'
    if request.headers.get("If-None-Match") == quoted:
        response: HttpResponse = HttpResponseNotModified()
    else:
        data = sel.leaderboard_view_data(
            method=method, source=source, category=category, snapshot=snapshot, pending=pending
        )
        response = JsonResponse(_live_payload(data, etag))
    response["ETag"] = quoted
    response["Cache-Control"] = "no-cache"
    return response


@csp
@require_GET
def models_list(request: HttpRequest) -> HttpResponse:
    """The models, and their rating against cost: a table and a chart of the same selector."""
    rating_cost = competitor_rating_cost()
    level = f"{round(100 * rating_cost['confidence'])} %"
    version = rating_cost["snapshot_version"]
    chart = charts.rating_cost_chart(
        rating_cost["rows"],
        title="Bradley-Terry rating against mean cost per battle, with intervals",
        x_label=f"mean cost per battle ({rating_cost['currency']}), {level} t interval",
        y_label=f"Bradley-Terry rating, {level} interval"
        + (f" (snapshot {version})" if version else ""),
        currency=rating_cost["currency"],
    )
    return render(
        request,
        "arena/models.html",
        {
            "nav": "models",
            "competitors": sel.competitor_list(),
            "rating_cost": rating_cost,
            "rating_cost_svg": chart,
        },
    )


@csp
@require_GET
def model_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """Model card, rating history, head-to-head record and recent battles."""
    competitor = get_object_or_404(m.Competitor.objects.select_related("owner"), pk=pk)
    if competitor.visibility != m.Competitor.Visibility.PUBLIC and not request.user.is_staff:
        raise Http404("no such model")
    history = sel.rating_history(competitor_id=competitor.id)
    history_svg = (
        charts.line_chart(
            [("rating", [(h["version"], h["rating"]) for h in history])],
            bands=[
                [
                    (h["version"], h["lower"], h["upper"])
                    for h in history
                    if h["lower"] is not None and h["upper"] is not None
                ]
            ],
            title=f"Bradley-Terry rating of {competitor.name} by snapshot version",
            x_label="snapshot version",
            y_label="rating",
        )
        if history
        else ""
    )
    board = leaderboard_get(method="bt") or {}
    current = next(
        (r for r in board.get("ratings", []) if r.get("competitor_id") == competitor.id), None
    )
    return render(
        request,
        "arena/model_detail.html",
        {
            "nav": "models",
            "competitor": competitor,
            "current": current,
            "history": history,
            "history_svg": history_svg,
            "head_to_head": sel.competitor_head_to_head(competitor_id=competitor.id),
            "recent": sel.competitor_recent_battles(competitor_id=competitor.id),
            "usage": competitor_usage(competitor=competitor),
        },
    )


JUDGE_FIGURES = (
    ("position_bias", "Position bias"),
    ("swap_inconsistency", "Swap inconsistency"),
    ("decisiveness", "Decisiveness"),
    ("human_agreement", "Agreement with humans"),
)


def share_text(share: dict[str, Any] | None) -> str:
    """``61.2 % (55.0–67.3 %)`` for a share with its interval; ``–`` without items."""
    if share is None:
        return "–"
    return f"{100 * share['value']:.1f} % ({100 * share['lower']:.1f}–{100 * share['upper']:.1f} %)"


def selfpref_view(sp: dict[str, Any]) -> dict[str, Any]:
    """The judges page's self-preference cells: the shares, the difference in points, status."""
    diff = sp["difference"]
    return {
        **sp,
        "own_text": share_text(sp["own_side_wins"]),
        "baseline_text": share_text(sp["baseline"]),
        "difference_text": (
            f"{100 * diff['value']:+.1f} pt ({100 * diff['lower']:+.1f} to "
            f"{100 * diff['upper']:+.1f} pt)"
            if diff
            else "–"
        ),
    }


@csp
@require_GET
def judges_list(request: HttpRequest) -> HttpResponse:
    """Per-judge reliability, each share with its interval (the same read as the API)."""
    data = judge_list()
    rows = [
        {
            "judge": j["judge"],
            "judgments": j["judgments"],
            "matches": j["matches"],
            "human_matches_left_out": j["human_matches_left_out"],
            "usage": j["usage"],
            "selfpref": selfpref_view(j["self_preference"]),
            "figures": [
                {
                    "key": key,
                    "text": share_text(j[key]),
                    "n": j[key]["n"] if j[key] else 0,
                    "method": j[key]["method"] if j[key] else "",
                }
                for key, _ in JUDGE_FIGURES
            ],
        }
        for j in data["judges"]
    ]
    notes = data["methodology"]
    return render(
        request,
        "arena/judges.html",
        {
            "nav": "judges",
            "rows": rows,
            "headers": [label for _, label in JUDGE_FIGURES],
            "runs": [judge_run_dict(run=run, board=False) for run in judge_runs_recent()],
            "choices": board_choices(),
            "notes": [
                ("What is counted", notes["scope"]),
                *[(label, notes[key]) for key, label in JUDGE_FIGURES],
                ("Intervals", notes["intervals"]),
                ("Re-judge runs", notes["rejudged"]),
                ("Calls, tokens, latency and cost", notes["usage"]),
                ("Self-preference", notes["self_preference"]),
            ],
        },
    )


@csp
@require_GET
def tournaments_list(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "arena/tournaments.html",
        {"nav": "tournaments", "tournaments": tournament_list_rows()},
    )


@csp
@require_GET
def tournament_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """Bracket, Swiss rounds, cross-table and Monte Carlo table of one tournament."""
    tournament = get_object_or_404(m.Tournament, pk=pk)
    data = tournament_page_data(tournament=tournament)
    sens = data.get("sensitivity")
    if sens:
        series = [
            (name, [(lv, row[i]) for lv, row in zip(sens["levels"], sens["expected_score"])])
            for i, name in enumerate(sens["models"])
        ]
        data["sensitivity_svg"] = charts.line_chart(
            series,
            title="Failure sensitivity: E[S] as more models are eliminated each round",
            x_label="models eliminated per round (T)",
            y_label="E[S]",
        )
    data["nav"] = "tournaments"
    return render(request, "arena/tournament_detail.html", data)


@csp
@require_GET
def vote(request: HttpRequest) -> HttpResponse:
    """The anonymous battle page; the battle itself is fetched from the REST API by vote.js."""
    from django.middleware.csrf import get_token

    get_token(request)  # make sure the CSRF cookie is set for the API calls
    categories = sorted(
        set(m.PromptSet.objects.filter(public=True).values_list("category", flat=True)) - {""}
    )
    return render(request, "arena/vote.html", {"nav": "vote", "categories": categories})


def vote_kwise(request: HttpRequest) -> HttpResponse:
    """The K-wise vote page (rank K answers, ``?k=3`` or ``4``); vote_kwise.js fetches the
    battle from the REST API. An unknown ``k`` falls back to 4."""
    from django.middleware.csrf import get_token

    from arena.services.kwise import KWISE_SIZES, kwise_labels

    get_token(request)
    try:
        k = int(request.GET.get("k", "4"))
    except ValueError:
        k = 4
    if k not in KWISE_SIZES:
        k = 4
    categories = sorted(
        set(m.PromptSet.objects.filter(public=True).values_list("category", flat=True)) - {""}
    )
    category = request.GET.get("category", "")
    return render(
        request,
        "arena/vote_kwise.html",
        {
            "nav": "vote",
            "k": k,
            "sizes": KWISE_SIZES,
            "last_label": kwise_labels(k)[-1],
            "categories": categories,
            "category": category if category in categories else "",
        },
    )
