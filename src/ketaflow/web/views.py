from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import LogoutView
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from ketaflow.accounts.clinictime import active_today, clinic_today
from ketaflow.accounts.credentials import ACT_PERM, ClinicalAct, credential_check
from ketaflow.accounts.roles import Perm
from ketaflow.audit.context import Actor
from ketaflow.audit.services import audit_shown
from ketaflow.clinical.common import count_text
from ketaflow.web.auth import request_user
from ketaflow.web.selectors import worklists_for


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """Each role's home page: what is waiting for this person today, one click from its page."""
    user = request_user(request)
    if user.may(Perm.VIEW_OWN_RECORD):  # a patient: their portal
        return redirect("portal_home")
    today = clinic_today(user.clinic) if user.clinic is not None else active_today()
    credentials = list(user.credentials.all())
    checks = [credential_check(user, act, on=today, credentials=credentials) for act in ClinicalAct]
    worklists = worklists_for(user)
    shown = sorted({pid for w in worklists for pid in w.patient_ids})
    if shown:
        audit_shown(
            actor=Actor.from_request(request),
            object_type="worklists",
            patients=shown,
            summary=f"shown the home page's worklists: {count_text(len(shown), 'patient')}",
            detail={"worklists": {w.key: len(w.items) for w in worklists}},
        )
    return render(
        request,
        "web/home.html",
        {
            "checks": [c for c in checks if user.may(ACT_PERM[c.act])],
            "credentials": credentials,
            "today": today,
            "worklists": worklists,
            "clinic_tz": user.clinic.time_zone if user.clinic is not None else None,
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
