"""The home page's worklists: what is waiting for the logged-in person today (the clinic's day).

One function per worklist. Each reads only through the access functions
(``patients_for_user``, ``tasks_for_user``, ``vials_for_user``, ...), so a clinic never sees
another clinic's work, and returns ``None`` when the user's role may not do that work. No
writes and no audit here: the home view audits the patients it shows (``worklists_shown``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

from django.urls import reverse
from django.utils import timezone

from ketaflow.accounts.models import Clinic, User
from ketaflow.accounts.roles import Perm, Role
from ketaflow.candidacy.models import CandidacyAssessment
from ketaflow.clinicsettings.selectors import setting_states
from ketaflow.infusions.models import InfusionSession
from ketaflow.infusions.services import AFTER_STOP, INFUSING, session_vitals_due
from ketaflow.ledger.access import vials_for_user
from ketaflow.ledger.models import Count
from ketaflow.patients.access import patients_for_user
from ketaflow.portal.access import tasks_for_user
from ketaflow.treatment.models import Appointment, Course
from ketaflow.treatment.services import clinic_datetime, clinic_today


@dataclass(frozen=True)
class WorkItem:
    """One thing waiting: what it is, for whom, when, and the page that does it."""

    text: str
    url: str
    patient_id: int | None = None
    patient_name: str = ""
    when: dt.datetime | None = None
    overdue: bool = False


@dataclass(frozen=True)
class Worklist:
    key: str
    title: str
    empty: str
    items: list[WorkItem] = field(default_factory=list)

    @property
    def patient_ids(self) -> list[int]:
        return [i.patient_id for i in self.items if i.patient_id is not None]


def _day_bounds(clinic: Clinic, day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    return (
        clinic_datetime(clinic, day, dt.time.min),
        clinic_datetime(clinic, day + dt.timedelta(days=1), dt.time.min),
    )


def candidacies_awaiting_sign_off(user: User) -> Worklist | None:
    """Assessed candidacies of the clinic's patients that no prescriber has decided yet."""
    if not user.may(Perm.SIGN_CANDIDACY):
        return None
    found = (
        CandidacyAssessment.objects.filter(
            patient__in=patients_for_user(user), status=CandidacyAssessment.Status.ASSESSED
        )
        .select_related("patient")
        .order_by("created_at")
    )
    return Worklist(
        "candidacies",
        "Candidacies awaiting sign-off",
        "No candidacy awaits a decision.",
        [
            WorkItem(
                text=f"{a.get_decision_display()}: decide and sign",
                url=reverse("candidacy_detail", args=[a.pk]),
                patient_id=a.patient_id,
                patient_name=a.patient.display_name,
                when=a.created_at,
            )
            for a in found
        ],
    )


def notes_awaiting_cosignature(user: User) -> Worklist | None:
    """Infusion notes the nurse signed that wait for a prescriber's co-signature."""
    if not user.may(Perm.ORDER_INFUSION):
        return None
    return _sessions_worklist(
        user,
        InfusionSession.Status.COSIGN,
        key="cosign",
        title="Infusion notes awaiting your co-signature",
        empty="No infusion note awaits a co-signature.",
        text="Signed by the nurse: review and co-sign",
    )


def notes_awaiting_signature(user: User) -> Worklist | None:
    """Infusion notes of discharged patients that the nurse has not signed yet."""
    if not user.may(Perm.SIGN_INFUSION_NOTE) or not user.may(Perm.CHART_INFUSION):
        return None
    return _sessions_worklist(
        user,
        InfusionSession.Status.DISCHARGED,
        key="sign",
        title="Infusion notes awaiting signature",
        empty="No infusion note awaits a signature.",
        text="Discharged: complete and sign the note",
    )


def _sessions_worklist(
    user: User, status: str, *, key: str, title: str, empty: str, text: str
) -> Worklist:
    found = (
        InfusionSession.objects.filter(patient__in=patients_for_user(user), status=status)
        .select_related("patient", "appointment")
        .order_by("appointment__starts_at")
    )
    return Worklist(
        key,
        title,
        empty,
        [
            WorkItem(
                text=text,
                url=reverse("infusion_session", args=[s.pk]),
                patient_id=s.patient_id,
                patient_name=s.patient.display_name,
                when=s.appointment.starts_at,
            )
            for s in found
        ],
    )


def urgent_tasks_open(user: User) -> Worklist | None:
    """The clinic's urgent safety tasks nobody has acknowledged."""
    if not user.may(Perm.ACKNOWLEDGE_URGENT):
        return None
    found = (
        tasks_for_user(user)
        .filter(acknowledged_at__isnull=True)
        .select_related("patient")
        .order_by("created_at")
    )
    return Worklist(
        "urgent",
        "Urgent tasks not yet acknowledged",
        "No urgent task is open.",
        [
            WorkItem(
                text=f"{t.get_kind_display()}: acknowledge and record the action",
                url=reverse("urgent_task_detail", args=[t.pk]),
                patient_id=t.patient_id,
                patient_name=t.patient.display_name,
                when=t.created_at,
                overdue=True,
            )
            for t in found
        ],
    )


def settings_awaiting_sign_off(user: User) -> Worklist | None:
    """The clinic's clinical settings that wait for the medical director's sign-off."""
    if not user.may(Perm.MANAGE_STAFF) or user.clinic is None:
        return None
    url = reverse("clinic_settings")
    return Worklist(
        "settings",
        "Clinical settings awaiting your sign-off",
        "Every clinical setting is signed or sourced.",
        [
            WorkItem(text=s.spec.label, url=f"{url}#{s.anchor}")
            for s in setting_states(user.clinic)
            if s.needs_sign_off
        ],
    )


def vitals_due_today(user: User, now: dt.datetime | None = None) -> Worklist | None:
    """Every infusion whose patient is still monitored (infusing, stopped or in recovery), up to
    the end of the clinic's day, whatever day it began (one begun at 23:40 is still watched at
    00:05): the next vitals reading, overdue ones first."""
    if not user.may(Perm.CHART_INFUSION) or user.clinic is None:
        return None
    now = now or timezone.now()
    _, end = _day_bounds(user.clinic, clinic_today(user.clinic))
    sessions = (
        InfusionSession.objects.filter(
            patient__in=patients_for_user(user),
            appointment__starts_at__lt=end,
            status__in=[*INFUSING, *AFTER_STOP],
        )
        .select_related("patient", "patient__clinic", "appointment")
        .order_by("appointment__starts_at")
    )
    items = []
    for s in sessions:
        due = session_vitals_due(s, now)
        if due is None:
            continue
        items.append(
            WorkItem(
                text=(
                    f"Vitals overdue by {due.minutes_late} min"
                    if due.overdue
                    else f"Vitals due in {due.minutes_left} min"
                ),
                url=reverse("infusion_session", args=[s.pk]),
                patient_id=s.patient_id,
                patient_name=s.patient.display_name,
                when=due.due_at,
                overdue=due.overdue,
            )
        )
    items.sort(key=lambda i: (not i.overdue, i.when or now))
    return Worklist(
        "vitals", "Today's infusions: vitals due", "No patient is being monitored now.", items
    )


def appointments_today(user: User) -> Worklist | None:
    """The clinic's appointments today (the clinic's day), not cancelled; names and times only."""
    if not user.may(Perm.VIEW_SCHEDULE) or user.clinic is None:
        return None
    day = clinic_today(user.clinic)
    start, end = _day_bounds(user.clinic, day)
    found = (
        Appointment.objects.filter(
            patient__in=patients_for_user(user), starts_at__gte=start, starts_at__lt=end
        )
        .exclude(status__in=[Appointment.Status.CANCELLED, Appointment.Status.NO_SHOW])
        .select_related("patient", "chair")
        .order_by("starts_at")
    )
    url = reverse("chair_board") + f"?day={day.isoformat()}"
    return Worklist(
        "appointments",
        "Today's appointments",
        "No appointment today.",
        [
            WorkItem(
                text=f"{a.chair}: {a.get_status_display().lower()}",
                url=url,
                patient_id=a.patient_id,
                patient_name=a.patient.display_name,
                when=a.starts_at,
            )
            for a in found
        ],
    )


def bookings_unconfirmed(user: User) -> Worklist | None:
    """Courses a prescriber planned whose chairs are not booked yet."""
    if not user.may(Perm.BOOK_APPOINTMENT) or user.clinic is None:
        return None
    found = (
        Course.objects.filter(patient__in=patients_for_user(user), status=Course.Status.PLANNED)
        .select_related("patient")
        .order_by("start_on")
    )
    return Worklist(
        "bookings",
        "Courses planned, not yet booked",
        "Every planned course is booked.",
        [
            WorkItem(
                text=f"{c.get_kind_display()} from {c.start_on:%Y-%m-%d}: book the chairs",
                url=reverse("course_book", args=[c.pk]),
                patient_id=c.patient_id,
                patient_name=c.patient.display_name,
            )
            for c in found
        ],
    )


def counts_due(user: User) -> Worklist | None:
    """The controlled-substance count of the clinic's day, while stock is on hand and nobody
    has counted it today."""
    if not user.may(Perm.LEDGER_COUNT) or user.clinic is None:
        return None
    day = clinic_today(user.clinic)
    start, end = _day_bounds(user.clinic, day)
    counted = Count.objects.filter(clinic=user.clinic, at__gte=start, at__lt=end).exists()
    in_stock = any(v.on_hand_mg > 0 for v in vials_for_user(user))
    items = (
        []
        if counted or not in_stock
        else [
            WorkItem(
                text=f"Today's count ({day:%Y-%m-%d}) is not done",
                url=reverse("ledger_count_new"),
                overdue=True,
            )
        ]
    )
    return Worklist("counts", "Controlled-substance counts due", "No count is due today.", items)


WorklistFn = Callable[[User], "Worklist | None"]

# Which worklists each role's home page shows, in order. Each function still asks the user's
# permissions and clinic itself: this table only chooses what a home page lists.
WORKLISTS_BY_ROLE: dict[Role, tuple[WorklistFn, ...]] = {
    Role.MEDICAL_DIRECTOR: (
        urgent_tasks_open,
        candidacies_awaiting_sign_off,
        notes_awaiting_cosignature,
        settings_awaiting_sign_off,
        counts_due,
    ),
    Role.PRESCRIBER: (
        urgent_tasks_open,
        candidacies_awaiting_sign_off,
        notes_awaiting_cosignature,
        counts_due,
    ),
    Role.NURSE: (urgent_tasks_open, vitals_due_today, notes_awaiting_signature, counts_due),
    Role.FRONT_DESK: (appointments_today, bookings_unconfirmed),
    Role.PATIENT: (),
    Role.NETWORK_ADMIN: (),
}


def worklists_for(user: User) -> list[Worklist]:
    """The worklists of the user's home page, those the role may do."""
    found = (fn(user) for fn in WORKLISTS_BY_ROLE.get(user.role_enum, ()))
    return [w for w in found if w is not None]
