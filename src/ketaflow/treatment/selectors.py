"""Reads for the treatment pages: one function a page, each returning a typed dataclass (its
:meth:`Page.context` is what the template sees). Views call an access function first
(:mod:`ketaflow.treatment.access`), then a selector; they never query the database themselves.
Writes are in :mod:`ketaflow.treatment.services`.

The chair board is laid out here as plain rows and cells (:class:`BoardRow`, :class:`BoardCell`),
each booked cell holding its cards (:class:`BoardCard`: the appointment and its bag); nothing is
stuck onto a model instance."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

from django.db.models import QuerySet
from django.utils import timezone

from ketaflow.accounts.models import Clinic, User
from ketaflow.accounts.roles import Perm
from ketaflow.candidacy.models import CandidacyAssessment
from ketaflow.candidacy.selectors import signed_candidacy_for
from ketaflow.patients.models import Patient
from ketaflow.treatment import services
from ketaflow.treatment.access import chairs_for_user, courses_for_user, schedule_for_user
from ketaflow.treatment.models import Appointment, Chair, Course, OpeningHours, ScheduleSettings
from ketaflow.web.reads import unread_but

if TYPE_CHECKING:
    from ketaflow.infusions.timers import BagState

BOARD_ROW_MIN = 30  # the chair board's rows, in minutes
BOARD_DEFAULT_HOURS = (dt.time(8, 0), dt.time(18, 0))  # shown on a day the clinic is closed


@dataclass
class Page:
    """A page's data; :meth:`context` hands its fields to the template by name."""

    def context(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


# ---- planning ------------------------------------------------------------------------------


@dataclass
class PlanStart:
    """What the planning form starts from: the signed candidacy, its intake (weight, height) and
    the first indication it names."""

    candidacy: CandidacyAssessment | None
    intake: dict[str, Any]
    indication: str
    start_on: dt.date
    open_weekdays: list[int]


def plan_start(patient: Patient) -> PlanStart:
    candidacy = signed_candidacy_for(patient)
    intake = (
        candidacy.intake if candidacy is not None and isinstance(candidacy.intake, dict) else {}
    )
    indications = [i for i in (candidacy.indications if candidacy else []) if isinstance(i, str)]
    return PlanStart(
        candidacy=candidacy,
        intake=intake,
        indication=indications[0] if indications else "ptsd",
        start_on=services.clinic_today(patient.clinic) + dt.timedelta(days=1),
        open_weekdays=services.open_weekdays(patient.clinic),
    )


# ---- the course ----------------------------------------------------------------------------


@dataclass(frozen=True)
class CourseRow:
    """One planned infusion: its date, the appointment that holds it, any cancelled ones."""

    sequence: int
    planned_on: dt.date
    appointment: Appointment | None
    cancelled: list[Appointment]


def course_rows(course: Course) -> list[CourseRow]:
    """One row per planned infusion: the planned date, its booking and any cancelled ones."""
    appointments = list(
        course.appointments.select_related("chair", "nurse", "infusion_session").order_by(
            "starts_at"
        )
    )
    rows = []
    for index, planned in enumerate(course.planned_dates):
        sequence = index + 1
        mine = [a for a in appointments if a.sequence == sequence]
        holding = [a for a in mine if a.status in services.HOLDING_STATUSES]
        rows.append(
            CourseRow(
                sequence=sequence,
                planned_on=dt.date.fromisoformat(planned),
                appointment=holding[-1] if holding else None,
                cancelled=[a for a in mine if a.status == Appointment.Status.CANCELLED],
            )
        )
    return rows


@dataclass
class CoursePage(Page):
    course: Course
    patient: Patient
    rows: list[CourseRow]
    unbooked: int
    show_clinical: bool
    may_book: bool
    may_chart: bool
    time_zone: str
    settings: ScheduleSettings


def course_page(user: User, course: Course) -> CoursePage:
    """The course page's schedule part; the clinical part (dose, estimate) is drawn by the view
    from :mod:`ketaflow.treatment.estimate` for staff who may see it."""
    rows = course_rows(course)
    return CoursePage(
        course=course,
        patient=course.patient,
        rows=rows,
        unbooked=sum(1 for r in rows if r.appointment is None),
        show_clinical=user.may(Perm.VIEW_CLINICAL),
        may_book=user.may(Perm.BOOK_APPOINTMENT),
        may_chart=user.may(Perm.CHART_INFUSION),
        time_zone=course.patient.clinic.time_zone,
        settings=services.schedule_settings(course.patient.clinic),
    )


def unbooked_infusions(course: Course) -> list[tuple[int, dt.date]]:
    """(sequence, planned date) of each infusion of ``course`` not booked yet."""
    return [(r.sequence, r.planned_on) for r in course_rows(course) if r.appointment is None]


def active_chairs(user: User) -> QuerySet[Chair]:
    """The chairs of ``user``'s clinic that can be booked (the booking forms' choices)."""
    return chairs_for_user(user).filter(active=True)


# ---- the chair board -----------------------------------------------------------------------


@dataclass(frozen=True)
class BoardCard:
    """One appointment on the board, and its bag while it is infused (expected end, or when it
    was infused; ``None`` when not infusing)."""

    appointment: Appointment
    bag: BagState | None = None


@dataclass
class BoardCell:
    """A chair's cell in a row: empty, or booked (its cards, spanning ``rowspan`` rows)."""

    kind: str  # "empty" or "booked"; cells covered by a booking above are left out
    cards: list[BoardCard] = field(default_factory=list)
    rowspan: int = 1


@dataclass(frozen=True)
class BoardRow:
    at: dt.datetime
    open: bool
    cells: list[BoardCell]


@dataclass
class ChairBoardPage(Page):
    day: dt.date
    previous_day: dt.date
    next_day: dt.date
    today: dt.date
    chairs: list[Chair]
    grid: list[BoardRow]
    appointments: list[Appointment]
    closed: bool
    waiting: list[Course]
    show_clinical: bool
    time_zone: str


def board_grid(
    *,
    start: dt.datetime,
    rows: int,
    chair_ids: list[int],
    cards: list[BoardCard],
    open_spans: list[tuple[dt.datetime, dt.datetime]],
) -> list[BoardRow]:
    """Rows of ``BOARD_ROW_MIN`` minutes x chairs; an appointment fills its first row's cell
    with a rowspan over the rows it covers (covered cells are left out, as HTML wants)."""
    step = dt.timedelta(minutes=BOARD_ROW_MIN)
    # A column's entries: a cell, or the row index of the booked cell covering it.
    columns: dict[int, list[BoardCell | int]] = {
        c: [BoardCell("empty") for _ in range(rows)] for c in chair_ids
    }
    for card in cards:
        appointment = card.appointment
        column = columns[appointment.chair_id]
        first = max(0, min(rows - 1, math.floor((appointment.starts_at - start) / step)))
        last = max(first + 1, min(rows, math.ceil((appointment.ends_at - start) / step)))
        head = column[first]
        if isinstance(head, int):
            head = column[head]
        if isinstance(head, BoardCell) and head.kind == "booked":
            head.cards.append(card)  # overlapping bookings (never made by course_book)
            continue
        booked = BoardCell("booked", [card], last - first)
        column[first] = booked
        for row in range(first + 1, last):
            below = column[row]
            if not (isinstance(below, BoardCell) and below.kind == "empty"):
                booked.rowspan = row - first
                break
            column[row] = first
    grid = []
    for row in range(rows):
        moment = start + step * row
        cells = [columns[c][row] for c in chair_ids]
        grid.append(
            BoardRow(
                at=moment,
                open=any(a <= moment < b for a, b in open_spans),
                cells=[cell for cell in cells if isinstance(cell, BoardCell)],
            )
        )
    return grid


def _bags(appointments: list[Appointment]) -> dict[int, BagState | None]:
    """Each running or paused infusion's bag (its expected end, or when it was infused), by
    appointment (issue 11); one query for the sessions and one for their pump events."""
    from ketaflow.infusions import services as infusions  # the infusions app builds on this one
    from ketaflow.infusions.models import InfusionSession

    now = timezone.now()
    running = InfusionSession.objects.filter(
        appointment__in=appointments, status__in=infusions.INFUSING
    ).prefetch_related("events")
    return {s.appointment_id: infusions.session_bag(s, now) for s in running}


# A card names its patient and nurse, a waiting course its patient: the rest of their rows is
# not read (computed once, from the models).
WAITING_UNREAD = unread_but("patient", Patient, Patient.NAME_FIELDS)
BOARD_UNREAD = [*WAITING_UNREAD, *unread_but("nurse", User, User.NAME_FIELDS)]


def chair_board_page(user: User, clinic: Clinic, day: dt.date | None) -> ChairBoardPage:
    """The chair board of ``day`` (today in the clinic when ``None``) for ``user``: the clinic's
    chairs (active ones, and any holding an appointment that day) x rows of
    ``BOARD_ROW_MIN`` minutes from opening to closing (stretched to every appointment), and the
    courses waiting to be booked for staff who book. 403 for a role that may not see it."""
    visible = schedule_for_user(user)
    day = day or services.clinic_today(clinic)
    day_start = services.clinic_datetime(clinic, day, dt.time(0, 0))
    day_end = services.clinic_datetime(clinic, day + dt.timedelta(days=1), dt.time(0, 0))
    appointments = list(
        visible.filter(starts_at__lt=day_end, ends_at__gt=day_start)
        .exclude(status=Appointment.Status.CANCELLED)
        .select_related("patient", "chair", "course", "nurse")
        .defer(*BOARD_UNREAD)
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
    bags = _bags(appointments)
    grid = board_grid(
        start=grid_start,
        rows=rows,
        chair_ids=[c.pk for c in chairs],
        cards=[BoardCard(a, bags.get(a.pk)) for a in appointments],
        open_spans=open_spans,
    )
    waiting: list[Course] = []
    if user.may(Perm.BOOK_APPOINTMENT):
        waiting = list(
            courses_for_user(user, need=Perm.BOOK_APPOINTMENT)
            .filter(status=Course.Status.PLANNED)
            .select_related("patient")
            .defer(*WAITING_UNREAD)
            .order_by("start_on")
        )
    return ChairBoardPage(
        day=day,
        previous_day=day - dt.timedelta(days=1),
        next_day=day + dt.timedelta(days=1),
        today=services.clinic_today(clinic),
        chairs=chairs,
        grid=grid,
        appointments=appointments,
        closed=not hours,
        waiting=waiting,
        show_clinical=user.may(Perm.VIEW_CLINICAL),
        time_zone=clinic.time_zone,
    )
