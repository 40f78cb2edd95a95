"""No page but the second-factor step, the logout and static files until the session has passed
the second factor (django-otp's ``user.is_verified()``).

- A patient is sent to the portal's code page. A patient login without an enrolled second factor
  (one made outside an invitation, e.g. in the admin) reaches nothing at all: the code page tells
  them to ask the clinic for an invitation.
- Staff, when ``STAFF_SECOND_FACTOR_REQUIRED`` (always in production), are sent to their code
  page, or to enrolment at their first login (no authenticator yet).
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse

from ketaflow.accounts.models import User
from ketaflow.accounts.roles import Perm


def second_factor_passed(request: HttpRequest) -> bool:
    user = request.user
    return isinstance(user, User) and bool(getattr(user, "is_verified", lambda: False)())


def second_factor_needed(request: HttpRequest) -> bool:
    """Whether the logged-in user of ``request`` still owes the second factor."""
    user = getattr(request, "user", None)
    if not isinstance(user, User) or second_factor_passed(request):
        return False
    return user.may(Perm.VIEW_OWN_RECORD) or bool(settings.STAFF_SECOND_FACTOR_REQUIRED)


class SecondFactorMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if isinstance(user, User) and second_factor_needed(request):
            if user.may(Perm.VIEW_OWN_RECORD):
                target = reverse("portal_verify")
            else:
                from ketaflow.accounts.second_factor import has_second_factor

                target = reverse("account_verify" if has_second_factor(user) else "account_enrol")
            if not self._exempt(request.path, target):
                query = urlencode({"next": request.get_full_path()})
                return HttpResponseRedirect(f"{target}?{query}")
        return self.get_response(request)

    @staticmethod
    def _exempt(path: str, target: str) -> bool:
        static = "/" + str(settings.STATIC_URL).lstrip("/")
        return path in (target, reverse("logout")) or path.startswith(static)
