"""Thin views over course planning and booking: access check, form, service, template."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from ketaflow.accounts.roles import Perm
from ketaflow.audit.context import Actor
from ketaflow.candidacy.selectors import signed_candidacy_for
from ketaflow.patients.access import patient_for_user
from ketaflow.patients.models import Patient
from ketaflow.patients.services import form_viewed
from ketaflow.treatment import services
from ketaflow.treatment.access import (
    appointment_for_user,
    chairs_for_user,
    course_for_user,
    courses_for_user,
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
from ketaflow.treatment.models import Appointment, Course, OpeningHours
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
    candidacy = signed_candidacy_for(patient)
    intake = (
        candidacy.intake if candidacy is not None and isinstance(candidacy.intake, dict) else {}
    )
    indications = [i for i in (candidacy.indications if candidacy else []) if isinstance(i, str)]
    initial = plan_initial(
        intake=intake,
        start_on=services.clinic_today(clinic) + dt.timedelta(days=1),
        indication=indications[0] if indications else "ptsd",
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
            "open_weekdays": services.open_weekdays(clinic),
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


def _course_rows(course: Course) -> list[dict[str, Any]]:
    """One row per planned infusion: the planned date, its booking and any cancelled ones."""
    appointments = list(course.appointments.select_related("chair", "nurse").order_by("starts_at"))
    rows = []
    for index, planned in enumerate(course.planned_dates):
        sequence = index + 1
        mine = [a for a in appointments if a.sequence == sequence]
        holding = [a for a in mine if a.status in services.HOLDING_STATUSES]
        rows.append(
            {
                "sequence": sequence,
                "planned_on": dt.date.fromisoformat(planned),
                "appointment": holding[-1] if holding else None,
                "cancelled": [a for a in mine if a.status == Appointment.Status.CANCELLED],
            }
        )
    return rows


@login_required
@require_GET
def course_detail(request: HttpRequest, course_id: int) -> HttpResponse:
    user = request_user(request)
    actor = Actor.from_request(request)
    course = course_for_user(user, course_id, need=Perm.VIEW_SCHEDULE, actor=actor)
    clinical = user.may(Perm.VIEW_CLINICAL)
    rows = _course_rows(course)
    context: dict[str, Any] = {
        "course": course,
        "patient": course.patient,
        "rows": rows,
        "unbooked": sum(1 for r in rows if r["appointment"] is None),
        "show_clinical": clinical,
        "may_book": user.may(Perm.BOOK_APPOINTMENT),
        "may_chart": user.may(Perm.CHART_INFUSION),
        "time_zone": course.patient.clinic.time_zone,
        "settings": services.schedule_settings(course.patient.clinic),
    }
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
    rows = [(r["sequence"], r["planned_on"]) for r in _course_rows(course) if not r["appointment"]]
    chairs = chairs_for_user(user).filter(active=True)
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
    if request.method == "GET":
        form_viewed(
            actor=actor,
            patient=appointment.patient,
            what=f"cancelling infusion {appointment.sequence}",
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
            "time_zone": appointment.patient.clinic.time_zone,
            "title": f"Cancel infusion {appointment.sequence}",
            "button": "Cancel the appointment",
        },
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
        chairs=chairs_for_user(user).filter(active=True),
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
    if request.method == "GET":
        form_viewed(
            actor=actor,
            patient=appointment.patient,
            what=f"rescheduling infusion {appointment.sequence}",
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
            "refusal": refusal,
            "time_zone": clinic.time_zone,
            "title": f"Reschedule infusion {appointment.sequence}",
            "button": "Move the appointment",
        },
    )


# ---- the chair board -----------------------------------------------------------------------


def _board_grid(
    *,
    start: dt.datetime,
    rows: int,
    chair_ids: list[int],
    appointments: list[Appointment],
    open_spans: list[tuple[dt.datetime, dt.datetime]],
) -> list[dict[str, Any]]:
    """Rows of ``BOARD_ROW_MIN`` minutes x chairs; an appointment fills its first row's cell
    with a rowspan over the rows it covers (covered cells are left out, as HTML wants)."""
    step = dt.timedelta(minutes=BOARD_ROW_MIN)
    cells: dict[int, list[dict[str, Any]]] = {
        c: [{"kind": "empty"} for _ in range(rows)] for c in chair_ids
    }
    for appointment in appointments:
        column = cells[appointment.chair_id]
        first = max(0, min(rows - 1, math.floor((appointment.starts_at - start) / step)))
        last = max(first + 1, min(rows, math.ceil((appointment.ends_at - start) / step)))
        head = column[first]
        if head["kind"] == "covered":
            head = column[head["by"]]
        if head["kind"] == "booked":  # overlapping bookings (never made by course_book)
            head["appointments"].append(appointment)
            continue
        column[first] = {"kind": "booked", "appointments": [appointment], "rowspan": last - first}
        for row in range(first + 1, last):
            if column[row]["kind"] != "empty":
                column[first]["rowspan"] = row - first
                break
            column[row] = {"kind": "covered", "by": first}
    grid = []
    for row in range(rows):
        moment = start + step * row
        grid.append(
            {
                "at": moment,
                "open": any(a <= moment < b for a, b in open_spans),
                "cells": [cells[c][row] for c in chair_ids if cells[c][row]["kind"] != "covered"],
            }
        )
    return grid


def _expected_ends(appointments: list[Appointment]) -> None:
    """Each running or paused infusion's bag (its expected end, or when it was infused), as
    ``appointment.bag`` for the board (issue 11)."""
    from ketaflow.infusions import services as infusions  # the infusions app builds on this one
    from ketaflow.infusions.models import InfusionSession

    now = timezone.now()
    running = InfusionSession.objects.filter(
        appointment__in=appointments, status__in=infusions.INFUSING
    )
    bags = {s.appointment_id: infusions.session_bag(s, now) for s in running}
    for appointment in appointments:
        appointment.bag = bags.get(appointment.pk)  # type: ignore[attr-defined]


@login_required
@require_GET
def chair_board(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    actor = Actor.from_request(request)
    visible = schedule_for_user(user)
    clinic = user.clinic
    if clinic is None:
        raise PermissionDenied("Only staff of a clinic see its chair board.")
    form = BoardDayForm(request.GET)
    day = form.cleaned_data["day"] if form.is_valid() and form.cleaned_data["day"] else None
    day = day or services.clinic_today(clinic)
    day_start = services.clinic_datetime(clinic, day, dt.time(0, 0))
    day_end = services.clinic_datetime(clinic, day + dt.timedelta(days=1), dt.time(0, 0))
    appointments = list(
        visible.filter(starts_at__lt=day_end, ends_at__gt=day_start)
        .exclude(status=Appointment.Status.CANCELLED)
        .select_related("patient", "chair", "course", "nurse")
        .order_by("starts_at")
    )
    used = {a.chair_id for a in appointments}
    chairs = [c for c in chairs_for_user(user).order_by("name") if c.active or c.pk in used]
    hours = list(OpeningHours.objects.filter(clinic=clinic, weekday=day.weekday()))
    open_spans = [
        (
            services.clinic_datetime(clinic, day, h.opens_at),
            services.clinic_datetime(clinic, day, h.closes_at),
        )
        for h in hours
    ]
    first_at = min([h.opens_at for h in hours] or [BOARD_DEFAULT_HOURS[0]])
    last_at = max([h.closes_at for h in hours] or [BOARD_DEFAULT_HOURS[1]])
    grid_start = services.clinic_datetime(clinic, day, first_at)
    grid_end = services.clinic_datetime(clinic, day, last_at)
    if appointments:
        grid_start = min(grid_start, max(day_start, appointments[0].starts_at))
        grid_end = max(grid_end, min(day_end, max(a.ends_at for a in appointments)))
    grid_start = services.local(clinic, grid_start)
    grid_start = grid_start.replace(
        minute=grid_start.minute - grid_start.minute % BOARD_ROW_MIN, second=0, microsecond=0
    )
    rows = max(1, math.ceil((grid_end - grid_start) / dt.timedelta(minutes=BOARD_ROW_MIN)))
    grid = _board_grid(
        start=grid_start,
        rows=rows,
        chair_ids=[c.pk for c in chairs],
        appointments=appointments,
        open_spans=open_spans,
    )
    waiting: list[Course] = []
    if user.may(Perm.BOOK_APPOINTMENT):
        waiting = list(
            courses_for_user(user, need=Perm.BOOK_APPOINTMENT)
            .filter(status=Course.Status.PLANNED)
            .select_related("patient")
            .order_by("start_on")
        )
    services.board_viewed(actor=actor, day=day, appointments=appointments, waiting=waiting)
    _expected_ends(appointments)
    return render(
        request,
        "treatment/board.html",
        {
            "day": day,
            "previous_day": day - dt.timedelta(days=1),
            "next_day": day + dt.timedelta(days=1),
            "today": services.clinic_today(clinic),
            "chairs": chairs,
            "grid": grid,
            "appointments": appointments,
            "closed": not hours,
            "waiting": waiting,
            "show_clinical": user.may(Perm.VIEW_CLINICAL),
            "time_zone": clinic.time_zone,
        },
    )
