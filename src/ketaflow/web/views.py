from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import LogoutView
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone

from ketaflow.accounts.credentials import ACT_PERM, ClinicalAct, credential_check
from ketaflow.accounts.roles import ROLE_PERMISSIONS, Perm, Role
from ketaflow.clinicsettings.selectors import setting_states
from ketaflow.web.auth import request_user


@login_required
def home(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    if user.role == Role.PATIENT:
        return redirect("portal_home")
    today = timezone.localdate()
    checks = [credential_check(user, act, on=today) for act in ClinicalAct]
    return render(
        request,
        "web/home.html",
        {
            "checks": [c for c in checks if user.may(ACT_PERM[c.act])],
            "perms": sorted(p.value.replace("_", " ") for p in ROLE_PERMISSIONS[user.role_enum]),
            "credentials": user.credentials.all(),
            "today": today,
            "settings_pending": (
                sum(1 for s in setting_states(user.clinic) if s.needs_sign_off)
                if user.may(Perm.MANAGE_STAFF) and user.clinic is not None
                else None
            ),
        },
    )


class SignOutView(LogoutView):
    """Log out, and tell the browser to drop what it kept for this user (Clear-Site-Data:
    localStorage with the infusion page's offline queue, sessionStorage, the cache). signout.js
    has already warned about unsent entries and cleared them; this covers a page without it."""

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = super().post(request, *args, **kwargs)
        response["Clear-Site-Data"] = '"cache", "storage"'
        return response
