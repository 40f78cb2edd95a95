"""Staff sign-in pages: the second-factor code, enrolment at first login (and a replacement after
re-authentication), the account's security page, and the medical director's page of their
clinic's sign-ins (lift a lockout, reset a second factor). Thin: one access function, one
service, render."""

from __future__ import annotations

import time

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import authenticate, logout
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST

from ketaflow.accounts import second_factor as factor
from ketaflow.accounts import sessions
from ketaflow.accounts.access import member_for_user, members_for_user
from ketaflow.accounts.forms import EnrolForm, ReauthForm, StaffCodeForm
from ketaflow.accounts.models import User
from ketaflow.accounts.roles import Perm
from ketaflow.accounts.signin import LockedOut, is_locked_request, lockout_lift, lockouts
from ketaflow.audit.context import Actor
from ketaflow.portal.middleware import second_factor_passed
from ketaflow.portal.totp import qr_svg
from ketaflow.web.auth import request_user

_PENDING = "second_factor_pending_secret"
_REAUTH = "second_factor_reauth_at"
REAUTH_SECONDS = 300  # a factor may be changed within 5 minutes of re-authenticating


def _staff(request: HttpRequest) -> User:
    user = request_user(request)
    if user.may(Perm.VIEW_OWN_RECORD):
        raise Http404("No such page.")  # patients sign in through the portal's pages
    return user


def _next(request: HttpRequest) -> str:
    url = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(
        url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return url
    return ""


def _locked(request: HttpRequest, exc: LockedOut) -> HttpResponse:
    logout(request)
    messages.error(request, str(exc))
    return redirect("login")


@login_required
@require_http_methods(["GET", "POST"])
def account_verify(request: HttpRequest) -> HttpResponse:
    user = _staff(request)
    next_url = _next(request)
    if second_factor_passed(request):
        return redirect(next_url or "home")
    if not factor.has_second_factor(user):
        return redirect("account_enrol")
    form = StaffCodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            device = factor.code_check(
                request=request, user=user, code=form.cleaned_data["code"], purpose="staff sign-in"
            )
        except LockedOut as exc:
            return _locked(request, exc)
        if device is not None:
            factor.second_factor_login(request, device)
            return redirect(next_url or "home")
        form.add_error("code", "That code does not match: enter the current 6 digits.")
    return render(request, "accounts/verify.html", {"form": form, "next": next_url})


def _reauthenticated(request: HttpRequest) -> bool:
    at = request.session.get(_REAUTH)
    return isinstance(at, float | int) and time.time() - at < REAUTH_SECONDS


@login_required
@require_http_methods(["GET", "POST"])
def account_enrol(request: HttpRequest) -> HttpResponse:
    """Enrolment at the first login; a replacement only just after re-authentication."""
    user = _staff(request)
    if factor.has_second_factor(user) and not (
        second_factor_passed(request) and _reauthenticated(request)
    ):
        return redirect("account_security" if second_factor_passed(request) else "account_verify")
    secret = request.session.get(_PENDING)
    if not isinstance(secret, str):
        secret = factor.new_secret()
        request.session[_PENDING] = secret
    form = EnrolForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            codes = factor.staff_enrol(
                actor=Actor.from_request(request),
                user=user,
                secret=secret,
                code=form.cleaned_data["code"],
            )
        except ValueError as exc:
            form.add_error("code", str(exc))
        else:
            request.session.pop(_PENDING, None)
            request.session.pop(_REAUTH, None)
            device = factor.totp_device(user)
            if device is not None:
                factor.second_factor_login(request, device)
            return render(request, "accounts/recovery_codes.html", {"codes": codes})
    uri = factor.provisioning_uri(secret, user.username)
    return render(
        request,
        "accounts/enrol.html",
        {
            "form": form,
            "secret_spaced": " ".join(secret[i : i + 4] for i in range(0, len(secret), 4)),
            "qr_svg": qr_svg(uri),
            "replacing": factor.has_second_factor(user),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def account_security(request: HttpRequest) -> HttpResponse:
    """The account's second factor; changing it asks for the password and a current code."""
    user = _staff(request)
    form = ReauthForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        checked = authenticate(request, username=user.username, password=data["password"])
        if is_locked_request(request):
            return redirect("login")  # the lockout page answers (django-axes)
        try:
            device = (
                factor.code_check(
                    request=request, user=user, code=data["code"], purpose="re-authentication"
                )
                if checked is not None and checked.pk == user.pk
                else None
            )
        except LockedOut as exc:
            return _locked(request, exc)
        if device is None:
            form.add_error(None, "The password or the code is wrong.")
        elif data["action"] == "codes":
            codes = factor.recovery_codes_replace(actor=Actor.from_request(request), user=user)
            return render(request, "accounts/recovery_codes.html", {"codes": codes})
        else:
            request.session[_REAUTH] = time.time()
            request.session.pop(_PENDING, None)
            return redirect("account_enrol")
    return render(
        request,
        "accounts/security.html",
        {
            "form": form,
            "enrolled": factor.has_second_factor(user),
            "codes_left": factor.recovery_codes_left(user),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def account_sessions(request: HttpRequest) -> HttpResponse:
    """The person's own sessions (staff and patients); ending the others is audited."""
    user = request_user(request)
    mine = sessions.current(request)
    if request.method == "POST":
        ended = sessions.sessions_end_others(
            actor=Actor.from_request(request), user=user, keep=mine
        )
        messages.success(request, f"Ended {ended} other session{'s' if ended != 1 else ''}.")
        return redirect("account_sessions")
    return render(
        request,
        "accounts/sessions.html",
        {
            "sessions": sessions.sessions_of(user),
            "current_id": mine.pk if mine else None,
            "lifetime_hours": settings.SESSION_ABSOLUTE_SECONDS / 3600,
            "time_zone": user.clinic.time_zone if user.clinic else settings.TIME_ZONE,
        },
    )


# ---- the medical director: their clinic's sign-ins ------------------------------------------


@login_required
@require_http_methods(["GET"])
def signin_list(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    members = members_for_user(user)
    if not members:
        raise Http404("No such page.")
    locked = lockouts(members)
    rows = [
        {"member": m, "enrolled": factor.has_second_factor(m), "lockout": locked.get(m.pk)}
        for m in members
    ]
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    return render(request, "accounts/signin_list.html", {"rows": rows, "cooloff_minutes": minutes})


@login_required
@require_POST
def signin_lift(request: HttpRequest, user_id: int) -> HttpResponse:
    target = member_for_user(request_user(request), user_id)
    lockout_lift(actor=Actor.from_request(request), target=target)
    messages.success(request, f"Sign-in of {target.username} is open again.")
    return redirect("signin_list")


@login_required
@require_POST
def signin_reset(request: HttpRequest, user_id: int) -> HttpResponse:
    director = request_user(request)
    target = member_for_user(director, user_id)
    if target.may(Perm.VIEW_OWN_RECORD) or target.pk == director.pk:
        messages.error(
            request,
            "A patient enrols again through a new portal invitation; your own second factor "
            "is changed on your security page.",
        )
        return redirect("signin_list")
    factor.second_factor_reset(actor=Actor.from_request(request), target=target)
    messages.success(request, f"{target.username} enrols a new authenticator at the next login.")
    return redirect("signin_list")
