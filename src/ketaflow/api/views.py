"""The person's API tokens page (their settings): create one (shown once), list, revoke. A
clinic's medical director also sees and revokes every token of their clinic."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from ketaflow.accounts.roles import Perm
from ketaflow.api import services
from ketaflow.api.access import token_for_user, tokens_for_user
from ketaflow.api.forms import TokenForm
from ketaflow.api.scopes import SCOPES, scopes_for_role
from ketaflow.audit.context import Actor
from ketaflow.web.auth import request_user
from ketaflow.web.forms import apply_validation_error


@login_required
@require_http_methods(["GET", "POST"])
def token_list(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    if not scopes_for_role(user.role) or user.clinic_id is None:
        raise PermissionDenied("API tokens are for a clinic's staff.")
    form = TokenForm(request.POST or None, user=user)
    new_token = ""
    if request.method == "POST" and form.is_valid():
        try:
            created = services.token_create(
                actor=Actor.from_request(request),
                user=user,
                scopes=form.cleaned_data["scopes"],
                name=form.cleaned_data["name"],
                days=form.cleaned_data["days"],
            )
        except ValidationError as exc:
            apply_validation_error(form, exc)
        else:
            new_token = created.token
            form = TokenForm(user=user)
    now = timezone.now()
    tokens = [
        (
            t,
            [SCOPES[k].label for k in t.scopes if k in SCOPES],
            "revoked" if t.revoked_at else "expired" if t.is_expired(now) else "active",
        )
        for t in tokens_for_user(user)
    ]
    return render(
        request,
        "api/tokens.html",
        {
            "form": form,
            "new_token": new_token,
            "tokens": tokens,
            "director": user.may(Perm.MANAGE_STAFF),
            "time_zone": user.clinic.time_zone if user.clinic else settings.TIME_ZONE,
        },
    )


@login_required
@require_POST
def token_revoke(request: HttpRequest, token_id: int) -> HttpResponse:
    user = request_user(request)
    token = token_for_user(user, token_id)
    services.token_revoke(actor=Actor.from_request(request), token=token)
    messages.success(request, f"Revoked API token {token.prefix}.")
    return redirect("api_tokens")
