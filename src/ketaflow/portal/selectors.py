"""Reads for the patient's own portal pages that follow what actually happened: the
questionnaires of the measurement plan with what became of each (answered in the portal,
answered at the clinic, due, not open yet, missed), the appointments still ahead (not those
whose infusion has already started), and who looked at the record, in plain words."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Final, Literal

from ketaflow.accounts.clinictime import clinic_local
from ketaflow.accounts.models import User
from ketaflow.accounts.roles import Role
from ketaflow.assessments.models import InstrumentResponse
from ketaflow.audit.models import AuditEntry
from ketaflow.audit.services import entries_naming_patient
from ketaflow.infusions.models import InfusionSession
from ketaflow.patients.models import Patient
from ketaflow.portal.access import tasks_for_user
from ketaflow.portal.models import DueQuestionnaire, UrgentTask
from ketaflow.prepared import Prepared
from ketaflow.treatment.models import Appointment

State = Literal["answered", "answered_at_clinic", "due", "upcoming", "missed"]
PAST_SHOWN: Final = 12
AHEAD_SHOWN: Final = 6
# What :func:`questionnaire_rows` reads of each questionnaire and its answer.
ROW_FIELDS: Final = (
    "instrument",
    "timepoint",
    "label",
    "due_at",
    "window_ends_at",
    "status",
    "response__source",
    "response__taken_at",
)


@dataclass(frozen=True)
class QuestionnaireRow:
    title: str
    state: State  # a CSS class only; the page shows ``state_text``
    state_text: str
    due: DueQuestionnaire


def _when(patient: Patient, moment: dt.datetime) -> str:
    return f"{clinic_local(patient.clinic, moment):%a %-d %b, %H:%M}"


def _clinic_answer(
    row: DueQuestionnaire, sessions: dict[int, int], chair: list[InstrumentResponse]
) -> InstrumentResponse | None:
    """An answer given at the clinic for this time point: the infusion's own (pre-infusion
    questionnaires at the chair), or one in the time point's window."""
    if row.timepoint.startswith("pre-") and row.timepoint[4:].isdigit():
        session_id = sessions.get(int(row.timepoint[4:]))
        for r in chair:
            if (
                r.instrument == row.instrument
                and session_id
                and r.infusion_session_id == session_id
            ):
                return r
    for r in chair:
        if r.instrument == row.instrument and row.due_at <= r.taken_at <= row.window_ends_at:
            return r
    return None


# The reads of the portal's home page, compiled once per process (ketaflow.prepared, issue 16).
_PLAN_ROWS = Prepared(
    lambda patient_id: (
        DueQuestionnaire.objects.filter(patient_id=patient_id)
        .select_related("response")
        .only(*ROW_FIELDS)
        .order_by("due_at", "instrument")
    )
)
_CHAIR_ANSWERS = Prepared(
    lambda patient_id: (
        InstrumentResponse.objects.filter(
            patient_id=patient_id, source=InstrumentResponse.Source.CLINIC
        )
        .only("instrument", "infusion_session_id", "taken_at")
        .order_by("taken_at")
    )
)
_SESSION_APPOINTMENTS = Prepared(
    lambda patient_id: InfusionSession.objects.filter(patient_id=patient_id).values_list(
        "appointment_id", "pk"
    )
)
_UPCOMING = Prepared(
    lambda patient_id, now: (
        Appointment.objects.filter(
            patient_id=patient_id, starts_at__gte=now, status=Appointment.Status.BOOKED
        )
        .exclude(infusion_session__started_at__isnull=False)
        .order_by("starts_at")[:10]
    )
)
_INSTRUCTED_SESSIONS = Prepared(
    lambda patient_id: (
        InfusionSession.objects.filter(patient_id=patient_id, instructions_given=True)
        .select_related("appointment")
        .only("id", "appointment", "appointment__starts_at")
        .order_by("-discharged_at", "-pk")[:HOME_SESSIONS]
    )
)


def questionnaire_rows(
    patient: Patient, now: dt.datetime
) -> tuple[list[QuestionnaireRow], list[QuestionnaireRow]]:
    """The plan's questionnaires as they happened: (the past and those open now, newest first;
    those not open yet, soonest first)."""
    # Only the columns the rows are worked out from: every questionnaire of the plan is read
    # (a year's course is over a hundred), and each answer's items and scoring are not needed.
    rows = _PLAN_ROWS.all(patient_id=patient.pk)
    chair = _CHAIR_ANSWERS.all(patient_id=patient.pk)
    sessions = dict(_SESSION_APPOINTMENTS.all(patient_id=patient.pk))
    # Each row's state first; its words (title, clinic times) only for the rows shown.
    past: list[tuple[DueQuestionnaire, State, InstrumentResponse | None]] = []
    ahead: list[DueQuestionnaire] = []
    for row in rows:
        at_clinic = _clinic_answer(row, sessions, chair)
        if row.status == DueQuestionnaire.Status.ANSWERED and row.response is not None:
            in_portal = row.response.source != InstrumentResponse.Source.CLINIC
            past.append((row, "answered" if in_portal else "answered_at_clinic", row.response))
        elif at_clinic is not None:
            past.append((row, "answered_at_clinic", at_clinic))
        elif row.due_at > now and row.status == DueQuestionnaire.Status.DUE:
            ahead.append(row)
        elif row.status == DueQuestionnaire.Status.DUE and row.window_ends_at > now:
            past.append((row, "due", None))
        else:
            past.append((row, "missed", None))
    shown_past = [
        QuestionnaireRow(_title(row), state, _state_text(patient, row, state, answer), row)
        for row, state, answer in reversed(past[-PAST_SHOWN:])
    ]
    shown_ahead = [
        QuestionnaireRow(_title(row), "upcoming", f"Opens {_when(patient, row.due_at)}", row)
        for row in ahead[:AHEAD_SHOWN]
    ]
    return shown_past, shown_ahead


def _title(row: DueQuestionnaire) -> str:
    return f"{row.get_instrument_display()}, {row.label}"


def _state_text(
    patient: Patient, row: DueQuestionnaire, state: State, answer: InstrumentResponse | None
) -> str:
    if answer is not None:
        where = "in the portal" if state == "answered" else "at the clinic"
        return f"Answered {where}, {_when(patient, answer.taken_at)}"
    if state == "due":
        return f"Due now, open until {_when(patient, row.window_ends_at)}"
    return f"Not answered (closed {_when(patient, row.window_ends_at)})"


def upcoming_appointments(patient: Patient, now: dt.datetime) -> list[Appointment]:
    """Booked infusions still ahead: one whose infusion has started (or been signed) is not."""
    return _UPCOMING.all(patient_id=patient.pk, now=now)


# ---- who looked at my record -------------------------------------------------------------------

# What a kind of record is, in the patient's words; anything else is "your record".
WHAT: Final[dict[str, str]] = {
    "patient": "your record",
    "patient_list": "a list of patients that includes you",
    "chair_board": "the day's chair schedule, which includes you",
    "worklists": "their list of the day's work, which includes you",
    "urgent_banner": "an urgent safety notice about you",
    "urgent_task": "an urgent safety task about you",
    "urgent_task_page": "the urgent safety tasks, which include you",
    "appointment": "your appointments",
    "course": "your treatment course",
    "candidacy": "your assessment for treatment",
    "candidacy_intake": "your assessment for treatment",
    "candidacy_letter": "the letter about your assessment",
    "consent": "your consent form",
    "infusion_session": "your infusion record",
    "session": "your infusion record",
    "infusion_event": "your infusion record",
    "infusion_day": "your infusion record",
    "infusion_addendum": "your infusion record",
    "vitals_entry": "your vital signs",
    "side_effect": "your side effects",
    "adverse_event": "your side effects",
    "prescriber_decision": "your infusion record",
    "instrument_response": "your questionnaire answers",
    "trajectory": "your scores over time",
    "booster_recommendation_list": "the booster recommendations, which include you",
    "outcome_dashboard": "the clinic's outcome figures, which include you",
    "clinical_note": "your clinical notes",
    "portal_invitation": "your portal invitation",
    "portal_page": "your portal",
    "reminder": "your questionnaire reminders",
    "access_history": "the history of who looked at your record",
    "audit_trail": "the history of who looked at your record",
    "ledger_entry": "the medicine record of your infusion",
    "ledger_vial": "the medicine record of your infusion",
    "ledger_report": "the clinic's medicine records, which include your infusion",
    "ledger_case": "the clinic's medicine records, which include your infusion",
    "ledger_count": "the clinic's medicine records, which include your infusion",
}
VERB: Final[dict[str, str]] = {
    AuditEntry.Action.VIEW: "Looked at",
    AuditEntry.Action.SEARCH: "Found you in a search of",
    AuditEntry.Action.CREATE: "Added to",
    AuditEntry.Action.UPDATE: "Changed",
    AuditEntry.Action.DELETE: "Removed something from",
    AuditEntry.Action.EXPORT: "Printed or downloaded",
    AuditEntry.Action.DENIED: "Was refused access to",
}
STAFF_ROLES: Final = [r.value for r in Role if r.is_staff_role]


@dataclass(frozen=True)
class AccessRow:
    when: str  # clinic time, in words
    name: str
    role: str
    clinic: str
    what: str


def access_history(patient: Patient, *, limit: int = 200) -> list[AccessRow]:
    """Who of the staff read or changed the record, newest first: names, roles and clinics in
    words, times on the patient's clinic's clock, what they looked at in plain words (no
    addresses, no internal record names or event codes)."""
    entries = (
        entries_naming_patient(patient.pk)
        .filter(actor_role__in=STAFF_ROLES)
        .select_related("actor", "clinic")[:limit]
    )
    rows = []
    for e in entries:
        name = (e.actor.get_full_name() if e.actor is not None else "") or e.actor_username
        what = WHAT.get(e.object_type, "your record")
        verb = VERB.get(e.action, "Opened")
        rows.append(
            AccessRow(
                when=f"{clinic_local(patient.clinic, e.at):%a %-d %b %Y, %H:%M}",
                name=name,
                role=Role(e.actor_role).label,
                clinic=e.clinic.name if e.clinic is not None else patient.clinic.name,
                what=f"{verb} {what}",
            )
        )
    return rows


HOME_SESSIONS: Final = 10  # the newest discharged infusions whose instructions the patient has


@dataclass(frozen=True)
class HomePage:
    """The patient's portal home: questionnaires behind and ahead, appointments ahead and the
    infusions whose discharge instructions they can read again."""

    past: tuple[QuestionnaireRow, ...]
    ahead: tuple[QuestionnaireRow, ...]
    appointments: tuple[Appointment, ...]
    sessions: tuple[InfusionSession, ...]


def home_page(patient: Patient, now: dt.datetime) -> HomePage:
    past, ahead = questionnaire_rows(patient, now)
    return HomePage(
        past=tuple(past),
        ahead=tuple(ahead),
        appointments=tuple(upcoming_appointments(patient, now)),
        # Each with its appointment, whose day the link names (it was a query a row).
        sessions=tuple(_INSTRUCTED_SESSIONS.all(patient_id=patient.pk)),
    )


TASKS_SHOWN: Final = 200


def urgent_tasks_page(user: User) -> tuple[UrgentTask, ...]:
    """The urgent tasks of ``user``'s clinic they may see (newest first as the model orders)."""
    return tuple(tasks_for_user(user).select_related("patient", "acknowledged_by")[:TASKS_SHOWN])
