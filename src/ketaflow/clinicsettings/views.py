"""The medical director's clinical settings page: every setting with its value, source, status
and sign-off, the ones needing sign-off first; change a value and sign it."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from ketaflow.accounts.models import Clinic, User
from ketaflow.accounts.roles import Perm
from ketaflow.audit.context import Actor
from ketaflow.audit.services import Action, audit_record
from ketaflow.clinical.clinic_settings import SPECS, Group
from ketaflow.clinicsettings import services
from ketaflow.clinicsettings.forms import SettingForm
from ketaflow.clinicsettings.selectors import SettingState, anchor_for, setting_states
from ketaflow.web.auth import request_user
from ketaflow.web.forms import apply_validation_error


def _director(request: HttpRequest) -> tuple[User, Clinic]:
    """The medical director and their clinic: the only clinic whose settings they see."""
    user = request_user(request)
    if not user.may(Perm.MANAGE_STAFF) or user.clinic is None:
        audit_record(
            actor=Actor.from_request(request),
            action=Action.DENIED,
            object_type="clinic_settings",
            summary="denied: clinical settings",
        )
        raise PermissionDenied("Only the clinic's medical director sets clinical settings.")
    return user, user.clinic


def _page(
    request: HttpRequest, clinic: Clinic, bound: SettingForm | None = None, status: int = 200
) -> HttpResponse:
    states = setting_states(clinic)
    forms: list[tuple[SettingState, SettingForm]] = []
    for state in states:
        if bound is not None and bound.spec.key == state.spec.key:
            forms.append((state, bound))
        else:
            initial = {"value": "" if state.value is None else f"{state.value:g}"}
            forms.append((state, SettingForm(initial=initial, spec=state.spec)))
    pending = [(s, f) for s, f in forms if s.needs_sign_off]
    groups = [
        (group.label, [(s, f) for s, f in forms if not s.needs_sign_off and s.spec.group is group])
        for group in Group
    ]
    return render(
        request,
        "clinicsettings/settings.html",
        {"clinic": clinic, "pending": pending, "groups": groups, "total": len(states)},
        status=status,
    )


@login_required
@require_GET
def settings_page(request: HttpRequest) -> HttpResponse:
    _, clinic = _director(request)
    return _page(request, clinic)


@login_required
@require_POST
def setting_update(request: HttpRequest, key: str) -> HttpResponse:
    _, clinic = _director(request)
    spec = SPECS.get(key)
    if spec is None:
        raise Http404("No such setting.")
    form = SettingForm(request.POST, spec=spec)
    if form.is_valid():
        actor = Actor.from_request(request)
        value = form.cleaned_data["value"]
        try:
            if form.cleaned_data["action"] == "sign":
                services.clinic_setting_sign(actor=actor, clinic=clinic, key=key, value=value)
                done = f"Signed: {spec.label}, {spec.show(value)}."
            else:
                services.clinic_setting_change(actor=actor, clinic=clinic, key=key, value=value)
                done = f"Saved: {spec.label}, {spec.show(value)}. It needs your sign-off."
        except ValidationError as exc:
            apply_validation_error(form, exc)
        else:
            messages.success(request, done)
            return redirect(reverse("clinic_settings") + "#" + anchor_for(key))
    return _page(request, clinic, bound=form, status=400)
