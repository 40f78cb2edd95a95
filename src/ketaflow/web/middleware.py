"""Response headers every page of the app carries; the clinic's time zone for each request."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.cache import patch_cache_control

from ketaflow.accounts.clinictime import clinic_zone
from ketaflow.accounts.models import Clinic


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


class ClinicTimeMiddleware:
    """Activates the signed-in person's clinic time zone for the request, so that every time a
    page, form or template shows (and every wall-clock time a form reads) is the clinic's, not
    the server's. The network administrator, and visitors not signed in, keep the server's."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        clinic = getattr(user, "clinic", None) if user is not None else None
        if isinstance(clinic, Clinic):
            timezone.activate(clinic_zone(clinic))
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
