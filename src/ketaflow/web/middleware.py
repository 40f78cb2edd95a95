"""Response headers every page of the app carries."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils.cache import patch_cache_control


class NoStoreMiddleware:
    """``Cache-Control: no-store, private`` on every response the app itself builds.

    Nearly every page shows patient data, and a page that does not today may tomorrow, so the
    rule is the whole app rather than a list of views: no browser, shared computer's cache or
    proxy keeps a copy after the user has logged out. Static files are served before this runs
    (WhiteNoise) and keep their long cache lifetimes."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        patch_cache_control(response, no_store=True, private=True)
        return response
