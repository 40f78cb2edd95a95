"""Portal pages (patients, phone-first) and the staff pages for invitations and urgent tasks.
Thin: authenticate, one access function, bind a form, one service, render."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth import login, logout
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods

from ketaflow.accounts.roles import Perm
from ketaflow.accounts.second_factor import code_check, enrolled_device, second_factor_login
from ketaflow.accounts.signin import LockedOut
from ketaflow.audit.context import Actor, client_ip
from ketaflow.audit.services import audit_shown
from ketaflow.clinical import ClinicalInputError
from ketaflow.patients import services as patient_services
from ketaflow.patients.models import Patient
from ketaflow.patients.views import record_download
from ketaflow.portal import services, totp
from ketaflow.portal.access import (
    discharged_session_for_user,
    due_for_user,
    invitation_for_token,
    invitation_target,
    own_patient,
    response_for_user,
    task_for_user,
)
from ketaflow.portal.charts import score_charts
from ketaflow.portal.config import portal_settings
from ketaflow.portal.forms import AcknowledgeForm, JoinForm, QuestionnaireForm, VerifyForm
from ketaflow.portal.middleware import second_factor_passed
from ketaflow.portal.models import DueQuestionnaire
from ketaflow.portal.questionnaires import PORTAL_QUESTIONNAIRES, Questionnaire, questionnaire
from ketaflow.portal.safety import urgent_task_acknowledge
from ketaflow.portal.selectors import access_history, home_page, urgent_tasks_page
from ketaflow.web.auth import request_user

_JOIN_SESSION = "portal_join"


def _actor(request: HttpRequest) -> Actor:
    return Actor.from_request(request)


def _crisis(patient: Patient) -> str:
    return portal_settings(patient.clinic_id).crisis_text


def _own_page(
    request: HttpRequest,
    patient: Patient,
    *,
    page: str,
    template: str,
    context: Callable[[], dict[str, Any]] = dict,
) -> HttpResponse:
    """One of the patient's own pages: the view audited (``page`` names it in the trail), then
    ``context()`` read (after the audit, as before) and shown with the patient and the clinic's
    crisis text."""
    services.page_viewed(actor=_actor(request), patient=patient, page=page)
    return render(
        request, template, {**context(), "patient": patient, "crisis_text": _crisis(patient)}
    )


# --- The patient's pages -------------------------------------------------------------------


@login_required
@require_GET
def portal_home(request: HttpRequest) -> HttpResponse:
    patient = own_patient(request_user(request))

    def context() -> dict[str, Any]:
        page = home_page(patient, timezone.now())
        past = page.past
        return {
            "due": [row.due for row in past if row.state == "due"],
            "past": [row for row in past if row.state != "due"],
            "ahead": page.ahead,
            "appointments": page.appointments,
            "sessions": page.sessions,
            "questionnaires": PORTAL_QUESTIONNAIRES.values(),
        }

    return _own_page(
        request, patient, page="portal home", template="portal/home.html", context=context
    )


def _answer(
    request: HttpRequest, q: Questionnaire, patient: Patient, due: DueQuestionnaire | None
) -> HttpResponse:
    actor = _actor(request)
    if request.method == "POST":
        form = QuestionnaireForm(q, request.POST)
        if form.is_valid():
            try:
                done = services.questionnaire_submit(
                    actor=actor,
                    patient=patient,
                    instrument=q.slug,
                    answers=form.answers(),
                    comment=form.cleaned_data["comment"],
                    due=due,
                )
            except ClinicalInputError as exc:
                form.add_error(None, str(exc))
            else:
                return redirect("portal_answered", response_id=done.response.pk)
    else:
        form = QuestionnaireForm(q)
        services.page_viewed(actor=actor, patient=patient, page=f"{q.title} questionnaire")
    return render(
        request,
        "portal/answer.html",
        {"q": q, "form": form, "due": due, "patient": patient, "crisis_text": _crisis(patient)},
    )


@login_required
@require_http_methods(["GET", "POST"])
def portal_answer(request: HttpRequest, instrument: str) -> HttpResponse:
    patient = own_patient(request_user(request))
    q = questionnaire(instrument)
    if q is None:
        raise Http404("No such questionnaire.")
    return _answer(request, q, patient, None)


@login_required
@require_http_methods(["GET", "POST"])
def portal_due(request: HttpRequest, due_id: int) -> HttpResponse:
    due = due_for_user(request_user(request), due_id)
    q = questionnaire(due.instrument)
    if q is None or due.status != DueQuestionnaire.Status.DUE:
        messages.info(request, "That questionnaire is no longer open.")
        return redirect("portal_home")
    return _answer(request, q, due.patient, due)


@login_required
@require_GET
def portal_answered(request: HttpRequest, response_id: int) -> HttpResponse:
    response = response_for_user(request_user(request), response_id)
    patient = response.patient
    flagged = response.suicide_risk_flag or bool(
        getattr(getattr(response, "portal_comment", None), "matched_terms", [])
    )
    return _own_page(
        request,
        patient,
        page="questionnaire confirmation",
        template="portal/answered.html",
        context=lambda: {"response": response, "flagged": flagged},
    )


@login_required
@require_GET
def portal_scores(request: HttpRequest) -> HttpResponse:
    patient = own_patient(request_user(request))
    return _own_page(
        request,
        patient,
        page="my scores",
        template="portal/scores.html",
        context=lambda: {"charts": score_charts(patient)},
    )


@login_required
@require_GET
def portal_viewers(request: HttpRequest) -> HttpResponse:
    patient = own_patient(request_user(request))
    return _own_page(
        request,
        patient,
        page="who viewed my record",
        template="portal/viewers.html",
        context=lambda: {"entries": access_history(patient)},
    )


@login_required
@require_GET
def portal_account(request: HttpRequest) -> HttpResponse:
    """The patient's own login: the username to sign in with (it shows nothing of them)."""
    user = request_user(request)
    patient = own_patient(user)
    return _own_page(
        request,
        patient,
        page="my account",
        template="portal/account.html",
        context=lambda: {"account": user},
    )


@login_required
@require_GET
def portal_record(request: HttpRequest) -> HttpResponse:
    """My complete record (right of access): what it holds and the two downloads."""
    patient = own_patient(request_user(request))
    return _own_page(request, patient, page="my complete record", template="portal/record.html")


@login_required
@require_GET
def portal_record_file(request: HttpRequest, file_format: str) -> HttpResponse:
    """The patient's own complete record as a PDF or a JSON file (only their own: the login's
    patient record, whatever the address says)."""
    patient = own_patient(request_user(request))
    data = patient_services.patient_record_export(
        actor=_actor(request), patient=patient, file_format=file_format, for_the_patient=True
    )
    return record_download(patient, data, file_format)


@login_required
@require_GET
def portal_crisis(request: HttpRequest) -> HttpResponse:
    patient = own_patient(request_user(request))
    return _own_page(request, patient, page="crisis resources", template="portal/crisis.html")


@login_required
@require_GET
def portal_instructions(request: HttpRequest, session_id: int) -> HttpResponse:
    session = discharged_session_for_user(request_user(request), session_id)
    patient = session.patient
    return _own_page(
        request,
        patient,
        page="discharge instructions",
        template="portal/instructions.html",
        context=lambda: {"session": session},
    )


# --- Sign-in: the invitation link and the second factor --------------------------------------


@require_http_methods(["GET", "POST"])
def portal_join(request: HttpRequest, token: str) -> HttpResponse:
    invitation = invitation_for_token(token)
    pending = request.session.get(_JOIN_SESSION) or {}
    if pending.get("invitation") != invitation.pk:
        pending = {"invitation": invitation.pk, "secret": totp.new_secret()}
        request.session[_JOIN_SESSION] = pending
    secret = str(pending["secret"])
    user = invitation.user
    uri = totp.provisioning_uri(secret, user.username)
    form = JoinForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = services.invitation_accept(
                invitation=invitation,
                password=form.cleaned_data["password1"],
                secret=secret,
                code=form.cleaned_data["code"],
                ip_address=client_ip(request),
            )
        except ValidationError as exc:
            if hasattr(exc, "error_dict"):
                for field, errors in exc.message_dict.items():
                    form.add_error(field if field in form.fields else None, errors)
            else:
                form.add_error("password1", exc.messages)
        else:
            request.session.pop(_JOIN_SESSION, None)
            login(request, user, backend="ketaflow.accounts.backends.PasswordOnlyBackend")
            second_factor_login(request, enrolled_device(user))
            messages.success(request, "Welcome. Your password and sign-in code are set.")
            return redirect("portal_home")
    return render(
        request,
        "portal/join.html",
        {
            "form": form,
            "username": user.username,
            "secret": secret,
            "secret_spaced": " ".join(secret[i : i + 4] for i in range(0, len(secret), 4)),
            "otpauth_uri": uri,
            "qr_svg": totp.qr_svg(uri),
            "expires_at": invitation.expires_at,
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def portal_verify(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    if not user.may(Perm.VIEW_OWN_RECORD):
        return redirect("home")  # the portal's code step is for patients; staff have their own
    next_url = request.POST.get("next") or request.GET.get("next") or ""
    if not url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        next_url = ""
    if second_factor_passed(request):
        return redirect(next_url or "portal_home")
    if not services.has_second_factor(user):
        # No password alone opens a patient's record: enrolment happens only through the
        # clinic's invitation link, so that a stolen password cannot enrol a thief's device.
        return render(request, "portal/no_second_factor.html", status=403)
    form = VerifyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        # Wrong codes count against the account and address in the database (guessing limits,
        # ketaflow.accounts.signin): a new password login does not reset them.
        try:
            device = code_check(
                request=request,
                user=user,
                code=form.cleaned_data["code"],
                purpose="portal sign-in",
                recovery=False,
            )
        except LockedOut as exc:
            logout(request)
            messages.error(request, str(exc))
            return redirect("login")
        if device is not None:
            second_factor_login(request, device)
            return redirect(next_url or "portal_home")
        form.add_error("code", "That code does not match: enter the current 6 digits.")
    return render(request, "portal/verify.html", {"form": form, "next": next_url})


# --- Staff: invitations and urgent tasks ----------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def portal_invite(request: HttpRequest, patient_id: int) -> HttpResponse:
    actor = _actor(request)
    patient = invitation_target(request_user(request), patient_id, actor=actor)
    created = None
    if request.method == "POST":
        try:
            created = services.invitation_create(actor=actor, patient=patient)
        except ValueError as exc:
            messages.error(request, str(exc))
    else:
        services.page_viewed(actor=actor, patient=patient, page="portal invitation")
    return render(
        request,
        "portal/invite.html",
        {
            "patient": patient,
            "created": created,
            "link": request.build_absolute_uri(created.path) if created else "",
            "enrolled": patient.user is not None and services.has_second_factor(patient.user),
            "hours": portal_settings(patient.clinic_id).invitation_hours,
        },
    )


@login_required
@require_GET
def urgent_task_list(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    if not user.may(Perm.VIEW_CLINICAL) or user.clinic_id is None:
        raise Http404("No such page.")
    tasks = urgent_tasks_page(user)
    audit_shown(
        actor=_actor(request),
        object_type="urgent_task_page",
        patients=[t.patient_id for t in tasks],
        summary=f"viewed urgent task list: {len(tasks)} tasks",
    )
    return render(request, "portal/task_list.html", {"tasks": tasks})


@login_required
@require_http_methods(["GET", "POST"])
def urgent_task_detail(request: HttpRequest, task_id: int) -> HttpResponse:
    actor = _actor(request)
    user = request_user(request)
    task = task_for_user(user, task_id, need=Perm.VIEW_CLINICAL, actor=actor)
    form = AcknowledgeForm(request.POST or None)
    if request.method == "POST":
        task = task_for_user(user, task_id, need=Perm.ACKNOWLEDGE_URGENT, actor=actor)
        if form.is_valid():
            try:
                urgent_task_acknowledge(
                    actor=actor,
                    task=task,
                    action_taken=form.cleaned_data["action_taken"],
                    note=form.cleaned_data["note"],
                )
            except ValueError as exc:
                form.add_error(None, str(exc))
                messages.error(request, str(exc))
            else:
                messages.success(request, "Urgent task acknowledged.")
                return redirect("urgent_task_detail", task_id=task.pk)
    else:
        services.page_viewed(actor=actor, patient=task.patient, page=f"urgent task #{task.pk}")
    comment = getattr(task.response, "portal_comment", None) if task.response else None
    return render(
        request,
        "portal/task_detail.html",
        {
            "task": task,
            "patient": task.patient,
            "form": form,
            "comment": comment,
            "may_acknowledge": user.may(Perm.ACKNOWLEDGE_URGENT),
        },
    )
