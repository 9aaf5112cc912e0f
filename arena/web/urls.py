"""HTML pages (owned by the web pages work, issue 8)."""

from django.urls import path

from arena.web.home import home

urlpatterns = [
    path("", home, name="home"),
]
