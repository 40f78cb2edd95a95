"""Thin views over trajectories, booster recommendations, the progress report and the clinic
outcome dashboard: access check, service, template. Every page and picture is audited."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from ketaflow.accounts.access import deny, require
from ketaflow.accounts.clinictime import active_today
from ketaflow.accounts.models import User
from ketaflow.accounts.roles import Perm
from ketaflow.audit.context import Actor
from ketaflow.outcomes import dashboard as dash
from ketaflow.outcomes import selectors, services
from ketaflow.outcomes.access import recommendation_for_user
from ketaflow.outcomes.charts import bars_chart, survival_chart, trajectory_charts
from ketaflow.outcomes.forms import AcceptForm, DashboardFilterForm, DeclineForm
from ketaflow.outcomes.report import progress_report_pdf
from ketaflow.patients.access import patient_for_user, patients_for_user
from ketaflow.treatment.services import BookingRefused, clinic_today
from ketaflow.web.auth import request_user


def _staff(user: User) -> bool:
    return user.role_enum.is_staff_role


# ---- trajectories ----------------------------------------------------------------------------


@login_required
@require_GET
def patient_trajectory(request: HttpRequest, patient_id: int) -> HttpResponse:
    user = request_user(request)
    actor = Actor.from_request(request)
    patient = patient_for_user(user, patient_id, need=Perm.VIEW_CLINICAL, actor=actor)
    staff = _staff(user)
    page = selectors.trajectory_page(patient, staff=staff)
    services.trajectory_viewed(actor=actor, patient=patient, what="page")
    open_rec = page.open_rec
    accept_form = None
    if open_rec is not None and user.may(Perm.PLAN_COURSE):
        on, at = services.default_booster_visit(open_rec, patient.clinic)
        accept_form = AcceptForm(initial={"on": on, "at": at})
    return render(
        request,
        "outcomes/trajectory.html",
        {
            "patient": patient,
            "traj": page.traj,
            "recommendations": page.recommendations,
            "open_rec": open_rec,
            "accept_form": accept_form,
            "decline_form": DeclineForm() if accept_form is not None else None,
            "may_export": user.may(Perm.EXPORT_CHART),
            "staff": staff,
            "charts": trajectory_charts(page.traj),
        },
    )


@login_required
@require_GET
def progress_report(request: HttpRequest, patient_id: int) -> HttpResponse:
    user = request_user(request)
    actor = Actor.from_request(request)
    patient = patient_for_user(user, patient_id, need=Perm.EXPORT_CHART, actor=actor)
    pdf, pages = progress_report_pdf(patient, generated_by=user)
    services.report_exported(actor=actor, patient=patient, pages=pages)
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="progress-report-{patient.mrn}.pdf"'
    response["Cache-Control"] = "private, no-store"
    return response


# ---- booster recommendations -----------------------------------------------------------------


def _errors(exc: ValidationError) -> list[str]:
    return [str(m) for m in exc.messages]


@login_required
@require_POST
def recommendation_accept(request: HttpRequest, rec_id: int) -> HttpResponse:
    user = request_user(request)
    actor = Actor.from_request(request)
    rec = recommendation_for_user(user, rec_id, need=Perm.PLAN_COURSE, actor=actor)
    back = reverse("outcomes_trajectory", args=[rec.patient_id])
    form = AcceptForm(request.POST)
    if not form.is_valid():
        for field, errors in form.errors.items():
            for error in errors:
                messages.error(request, f"{field}: {error}" if field != "__all__" else str(error))
        return redirect(back)
    try:
        course = services.recommendation_accept(
            actor=actor, rec=rec, on=form.cleaned_data["on"], at=form.cleaned_data["at"]
        )
    except BookingRefused as exc:
        for reason in exc.reasons:
            messages.error(request, f"Booster not booked: {reason}")
        return redirect(back)
    except ValidationError as exc:
        for error in _errors(exc):
            messages.error(request, f"Booster not booked: {error}")
        return redirect(back)
    messages.success(
        request, f"Booster accepted and booked for {course.planned_dates[0]} (booster course)."
    )
    return redirect(back)


@login_required
@require_POST
def recommendation_decline(request: HttpRequest, rec_id: int) -> HttpResponse:
    user = request_user(request)
    actor = Actor.from_request(request)
    rec = recommendation_for_user(user, rec_id, need=Perm.PLAN_COURSE, actor=actor)
    back = reverse("outcomes_trajectory", args=[rec.patient_id])
    form = DeclineForm(request.POST)
    reason = form.data.get("reason", "") if form.is_bound else ""
    try:
        services.recommendation_decline(actor=actor, rec=rec, reason=str(reason))
    except ValidationError as exc:
        for error in _errors(exc):
            messages.error(request, error)
        return redirect(back)
    messages.success(request, "Booster recommendation declined; the reason is on record.")
    return redirect(back)


@login_required
@require_GET
def recommendation_list(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    actor = Actor.from_request(request)
    require(
        user, Perm.VIEW_CLINICAL, object_type="booster_recommendations", object_id="", actor=actor
    )
    recs = selectors.open_recommendations(user)
    services.recommendations_listed(actor=actor, patient_ids=[r.patient_id for r in recs])
    return render(request, "outcomes/recommendations.html", {"recommendations": recs})


# ---- the clinic outcome dashboard --------------------------------------------------------------


def _dashboard_user(request: HttpRequest) -> tuple[User, Actor]:
    user = request_user(request)
    actor = Actor.from_request(request)
    if not user.may(Perm.VIEW_OUTCOMES_DASHBOARD) or user.clinic_id is None:
        deny(
            user,
            Perm.VIEW_OUTCOMES_DASHBOARD,
            object_type="outcome_dashboard",
            object_id="",
            actor=actor,
        )
    return user, actor


def _filters(request: HttpRequest, user: User) -> tuple[DashboardFilterForm, dash.Filters]:
    form = DashboardFilterForm(request.GET or None)
    today = clinic_today(user.clinic) if user.clinic is not None else active_today()
    if form.is_bound and form.is_valid():
        return form, dash.Filters(
            indication=form.cleaned_data["indication"] or None,
            start=form.cleaned_data["start"],
            end=form.cleaned_data["end"],
            today=today,
        )
    return form, dash.Filters(indication=None, start=None, end=None, today=today)


def _cohort(user: User, filters: dash.Filters) -> dash.Dashboard:
    patients = patients_for_user(user)
    return dash.dashboard(patients, filters)


@login_required
@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    user, actor = _dashboard_user(request)
    form, filters = _filters(request, user)
    board = _cohort(user, filters)
    services.dashboard_viewed(actor=actor, what="figures", detail=filters.as_detail())
    return render(
        request,
        "outcomes/dashboard.html",
        {
            "form": form,
            "board": board,
            "query": filters.query(),
            "survival_chart": survival_chart(board.survival),
            "adverse_chart": bars_chart(
                [r.label for r in board.adverse_events],
                [r.per_100 for r in board.adverse_events],
                chart_id="adverse-chart",
                title=f"Adverse events per 100 infusions ({board.infusions} infusions)",
                unit="Events per 100 infusions",
                what="Type of adverse event",
            ),
        },
    )


@login_required
@require_GET
def dashboard_patients(request: HttpRequest) -> HttpResponse:
    """The patients behind one figure of the dashboard (through the normal access checks)."""
    user, actor = _dashboard_user(request)
    _, filters = _filters(request, user)
    figure = request.GET.get("figure", "")
    board = _cohort(user, filters)
    ids = board.patients_behind(figure)
    if ids is None:
        raise Http404("No such figure.")
    patients = selectors.patients_behind(user, ids)
    services.dashboard_viewed(
        actor=actor,
        what=f"patients behind {figure}",
        detail={**filters.as_detail(), "figure": figure, "patient_ids": [p.pk for p in patients]},
    )
    context: dict[str, Any] = {
        "figure": board.figure_label(figure),
        "patients": patients,
        "query": filters.query(),
    }
    return render(request, "outcomes/dashboard_patients.html", context)
