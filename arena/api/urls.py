"""API routes: ``/api/v1/...`` (owned by the REST API work, issue 7)."""

from django.urls import path

urlpatterns: list = []
