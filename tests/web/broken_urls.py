"""The project's URLs and error handlers plus one view with a bug (test_server_errors)."""

from django.http import HttpRequest, HttpResponse
from django.urls import path

from ketaflow.urls import handler500
from ketaflow.urls import urlpatterns as project_urls

__all__ = ["handler500", "urlpatterns"]


def broken(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("a bug")


urlpatterns = [path("broken/", broken), *project_urls]
