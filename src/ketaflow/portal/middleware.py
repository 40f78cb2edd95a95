"""A patient reaches nothing but the verification page, the logout and static files until the
session has passed the TOTP check. A patient login without an enrolled second factor (one made
outside an invitation, e.g. in the admin) reaches nothing at all: the verification page tells
them to ask the clinic for an invitation. Staff are unchanged."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse

from ketaflow.accounts.models import User
from ketaflow.accounts.roles import Role

SESSION_KEY = "portal_second_factor_user"


def second_factor_passed(request: HttpRequest) -> bool:
    user = request.user
    return isinstance(user, User) and request.session.get(SESSION_KEY) == user.pk


class PatientSecondFactorMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if (
            isinstance(user, User)
            and user.role == Role.PATIENT
            and not second_factor_passed(request)
            and not self._exempt(request.path)
        ):
            query = urlencode({"next": request.get_full_path()})
            return HttpResponseRedirect(f"{reverse('portal_verify')}?{query}")
        return self.get_response(request)

    @staticmethod
    def _exempt(path: str) -> bool:
        static = "/" + str(settings.STATIC_URL).lstrip("/")
        return path in (reverse("portal_verify"), reverse("logout")) or path.startswith(static)
