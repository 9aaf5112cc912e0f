from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache

from arena.services.health import health_report


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    report, healthy = health_report()
    return JsonResponse(report, status=200 if healthy else 503)
