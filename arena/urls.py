from django.contrib import admin
from django.urls import path

from arena.web.health import healthz
from arena.web.home import home

urlpatterns = [
    path("", home, name="home"),
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
]
