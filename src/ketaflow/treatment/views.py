"""Thin views over course planning and booking: access check, form, service, template."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from ketaflow.accounts.roles import Perm
from ketaflow.audit.context import Actor
from ketaflow.patients.access import patient_for_user
from ketaflow.patients.models import Patient
from ketaflow.patients.services import form_viewed
from ketaflow.treatment import selectors, services
from ketaflow.treatment.access import (
    appointment_for_user,
    course_for_user,
    schedule_for_user,
)
from ketaflow.treatment.charts import course_charts, first_infusion_chart
from ketaflow.treatment.estimate import (
    POPULATION_SIZE,
    course_estimate,
    plan_estimate,
)
from ketaflow.treatment.forms import (
    BoardDayForm,
    BookForm,
    CancelForm,
    CoursePlanForm,
    RescheduleForm,
    nurses_of,
    plan_initial,
)
from ketaflow.treatment.models import Appointment
from ketaflow.web.auth import request_user
from ketaflow.web.forms import apply_validation_error

BOARD_ROW_MIN = 30  # the chair board's rows, in minutes
BOARD_DEFAULT_HOURS = (dt.time(8, 0), dt.time(18, 0))  # shown on a day the clinic is closed


# ---- planning ------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def course_plan(request: HttpRequest, patient_id: int) -> HttpResponse:
    user = request_user(request)
    actor = Actor.from_request(request)
    patient = patient_for_user(user, patient_id, need=Perm.PLAN_COURSE, actor=actor)
    clinic = patient.clinic
    start = selectors.plan_start(patient)
    candidacy = start.candidacy
    initial = plan_initial(
        intake=start.intake, start_on=start.start_on, indication=start.indication
    )
    form = CoursePlanForm(request.POST or None, initial=initial)
    preview = None
    dose = None
    estimate: dict[str, Any] | None = None
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            if "preview" in request.POST:
                dose = services.dose_check(
                    patient=patient,
                    indication=services.LIBRARY_KEYS[data["drug_library_key"]],
                    dose_mg_per_kg=float(data["dose_mg_per_kg"]),
                    duration_min=float(data["duration_min"]),
                    weight_basis=data["weight_basis"],
                    weight_kg=float(data["weight_kg"]),
                    height_cm=float(data["height_cm"]) if data["height_cm"] is not None else None,
                )
                preview = services.schedule_preview(
                    clinic=clinic,
                    pattern=data["pattern"],
                    infusions_planned=data["infusions_planned"],
                    start_on=data["start_on"],
                )
                if preview.dates:
                    estimate = _preview_estimate(patient, data, dose, list(preview.dates))
            else:
                course = services.course_plan(
                    actor=actor,
                    patient=patient,
                    candidacy=candidacy,
                    indication=form.indication(),
                    **data,
                )
        except ValidationError as exc:
            apply_validation_error(form, exc)
        else:
            if preview is None:
                messages.success(request, "Course planned: check the dates, then book them.")
                return redirect("course_detail", course_id=course.pk)
    if request.method == "GET" or estimate is not None:
        form_viewed(
            actor=actor,
            patient=patient,
            what="a new course plan"
            + (", its dates, dose and predicted concentration" if estimate else ""),
            object_type="course",
            object_id="",
        )
    return render(
        request,
        "treatment/plan.html",
        {
            "form": form,
            "patient": patient,
            "candidacy": candidacy,
            "preview": preview,
            "dose": dose,
            "estimate": estimate,
            "n": POPULATION_SIZE,
            "open_weekdays": start.open_weekdays,
        },
    )


def _preview_estimate(
    patient: Patient, data: dict[str, Any], dose: services.DoseCheck, dates: list[dt.date]
) -> dict[str, Any]:
    """The predicted concentration of a plan not saved yet, drawn into the page: the course per
    infusion day and the first infusion close up."""
    common: dict[str, Any] = {
        "dose_mg": dose.dose_mg,
        "basis_weight_kg": dose.basis_weight_kg,
        "duration_min": float(data["duration_min"]),
        "weight_kg": float(data["weight_kg"]),
        "dates": dates,
        "age_on": patient.age_on,
    }
    course = plan_estimate(**common)
    first = plan_estimate(**common, first_only=True)
    return {
        "course": course,
        "day_charts": course_charts(course, dates),
        "first_chart": first_infusion_chart(first),
    }


# ---- the course ----------------------------------------------------------------------------


@login_required
@require_GET
def course_detail(request: HttpRequest, course_id: int) -> HttpResponse:
    user = request_user(request)
    actor = Actor.from_request(request)
    course = course_for_user(user, course_id, need=Perm.VIEW_SCHEDULE, actor=actor)
    page = selectors.course_page(user, course)
    clinical = page.show_clinical
    context = page.context()
    sections = ["schedule"]
    if clinical:
        sections += ["dose", "concentration estimate"]
        estimate = course_estimate(course)
        dates = [dt.date.fromisoformat(d) for d in course.planned_dates]
        context.update(
            dose=services.course_dose(course),
            estimate=estimate,
            n=POPULATION_SIZE,
            day_charts=course_charts(estimate, dates),
            first_chart=first_infusion_chart(course_estimate(course, first_only=True)),
        )
    services.course_viewed(actor=actor, course=course, sections=sections)
    return render(request, "treatment/course.html", context)


# ---- booking -------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def course_book(request: HttpRequest, course_id: int) -> HttpResponse:
    user = request_user(request)
    actor = Actor.from_request(request)
    course = course_for_user(user, course_id, need=Perm.BOOK_APPOINTMENT, actor=actor)
    clinic = course.patient.clinic
    rows = selectors.unbooked_infusions(course)
    chairs = selectors.active_chairs(user)
    form = BookForm(request.POST or None, rows=rows, chairs=chairs, nurses=nurses_of(clinic))
    refusal: list[str] = []
    if request.method == "POST" and form.is_valid() and rows:
        data = form.cleaned_data
        requests = [
            services.SlotRequest(
                sequence=seq,
                on=data[f"date_{seq}"],
                at=data[f"time_{seq}"] or data["time_of_day"],
                chair=data[f"chair_{seq}"],
                nurse=data[f"nurse_{seq}"] or data["nurse"],
            )
            for seq in form.sequences
        ]
        try:
            slots = services.slots_from_requests(course=course, requests=requests)
            booked = services.course_book(actor=actor, course=course, slots=slots)
        except services.BookingRefused as exc:
            refusal = exc.reasons
        else:
            messages.success(request, f"Booked {len(booked)} infusions.")
            return redirect("course_detail", course_id=course.pk)
    if request.method == "GET":
        form_viewed(
            actor=actor,
            patient=course.patient,
            what="course booking",
            object_type="course",
            object_id=course.pk,
        )
    settings = services.schedule_settings(clinic)
    return render(
        request,
        "treatment/book.html",
        {
            "form": form,
            "course": course,
            "patient": course.patient,
            "refusal": refusal,
            "settings": settings,
            "chair_minutes": int(services.chair_minutes(course, settings)),
        },
    )


def _appointment_form(
    request: HttpRequest,
    actor: Actor,
    appointment: Appointment,
    form: forms.Form,
    *,
    doing: str,
    title: str,
    button: str,
    refusal: list[str] | None = None,
) -> HttpResponse:
    """The cancel or reschedule form of ``appointment``: its showing audited on GET."""
    if request.method == "GET":
        form_viewed(
            actor=actor,
            patient=appointment.patient,
            what=f"{doing} infusion {appointment.sequence}",
            object_type="appointment",
            object_id=appointment.pk,
        )
    return render(
        request,
        "treatment/appointment_form.html",
        {
            "form": form,
            "appointment": appointment,
            "patient": appointment.patient,
            "refusal": refusal or [],
            "time_zone": appointment.patient.clinic.time_zone,
            "title": title,
            "button": button,
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def appointment_cancel(request: HttpRequest, appointment_id: int) -> HttpResponse:
    user = request_user(request)
    actor = Actor.from_request(request)
    appointment = appointment_for_user(
        user, appointment_id, need=Perm.BOOK_APPOINTMENT, actor=actor
    )
    form = CancelForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.appointment_cancel(
                actor=actor, appointment=appointment, reason=form.cleaned_data["reason"]
            )
        except ValidationError as exc:
            apply_validation_error(form, exc)
        else:
            messages.success(request, f"Cancelled infusion {appointment.sequence}.")
            return redirect("course_detail", course_id=appointment.course_id)
    return _appointment_form(
        request,
        actor,
        appointment,
        form,
        doing="cancelling",
        title=f"Cancel infusion {appointment.sequence}",
        button="Cancel the appointment",
    )


@login_required
@require_http_methods(["GET", "POST"])
def appointment_reschedule(request: HttpRequest, appointment_id: int) -> HttpResponse:
    user = request_user(request)
    actor = Actor.from_request(request)
    appointment = appointment_for_user(
        user, appointment_id, need=Perm.BOOK_APPOINTMENT, actor=actor
    )
    clinic = appointment.patient.clinic
    starts = services.local(clinic, appointment.starts_at)
    form = RescheduleForm(
        request.POST or None,
        chairs=selectors.active_chairs(user),
        nurses=nurses_of(clinic),
        initial={
            "on": starts.date(),
            "at": starts.time(),
            "chair": appointment.chair_id,
            "nurse": appointment.nurse_id,
        },
    )
    refusal: list[str] = []
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.appointment_reschedule(
                actor=actor,
                appointment=appointment,
                starts_at=services.clinic_datetime(clinic, data["on"], data["at"]),
                chair=data["chair"],
                nurse=data["nurse"],
                reason=data["reason"],
            )
        except services.BookingRefused as exc:
            refusal = exc.reasons
        except ValidationError as exc:
            apply_validation_error(form, exc)
        else:
            messages.success(request, f"Moved infusion {appointment.sequence}.")
            return redirect("course_detail", course_id=appointment.course_id)
    return _appointment_form(
        request,
        actor,
        appointment,
        form,
        doing="rescheduling",
        title=f"Reschedule infusion {appointment.sequence}",
        button="Move the appointment",
        refusal=refusal,
    )


# ---- the chair board -----------------------------------------------------------------------


@login_required
@require_GET
def chair_board(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    actor = Actor.from_request(request)
    clinic = user.clinic
    if clinic is None:
        schedule_for_user(user)  # 403 in words for a role without the board
        raise PermissionDenied("Only staff of a clinic see its chair board.")
    form = BoardDayForm(request.GET)
    day = form.cleaned_data["day"] if form.is_valid() and form.cleaned_data["day"] else None
    page = selectors.chair_board_page(user, clinic, day)
    services.board_viewed(
        actor=actor, day=page.day, appointments=page.appointments, waiting=page.waiting
    )
    return render(request, "treatment/board.html", page.context())
