from django.contrib import admin
from django.urls import include, path

from arena.web.health import healthz

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("api/", include("arena.api.urls")),
    path("", include("arena.web.urls")),
]
