"""API routes: ``/api/v1/...`` (owned by the REST API work, issue 7)."""


urlpatterns: list = []
