"""Reads for the infusion pages: one function a page, each returning a typed dataclass (its
:meth:`Page.context` is what the template sees). Views call an access function first
(:mod:`ketaflow.infusions.access`), then a selector, then build the forms the page's state
needs; they never query the database themselves. Writes are in
:mod:`ketaflow.infusions.services`.

The session page reads each kind of record once (issue 15 item 1, issue 16): the session as
the access check read it (its appointment, course and chair joined, its patient and clinic the
patient check's; after a write :func:`session_reread`); its pump events, vitals, side effects,
decisions and (once signed) addenda as one prefetch each onto that object; the people the
session and those records name in one read of users; its questionnaire answers and the
clinic's schedule once (:mod:`ketaflow.infusions.loaded`), shared by every rule the page asks
(start gate, bag, vitals due, alerts, the chair's gates, both charts and the seal check); the
vial's ledger entries in one query. ``benchmarks/infusion_page.py`` measures it;
``tests/infusions/test_page_queries.py`` pins its query count.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, fields
from typing import Any

from django.db.models import Q
from django.utils import timezone

from ketaflow.accounts.clinictime import clinic_day, clinic_today
from ketaflow.accounts.models import Clinic, User
from ketaflow.accounts.roles import Perm
from ketaflow.assessments.models import InstrumentResponse
from ketaflow.clinical import Action as MonitoringAction
from ketaflow.clinical import Instrument
from ketaflow.clinical.dosing import BAG_CONVENTION, kg_to_pounds
from ketaflow.clinical.monitoring import AlertLevel, EndOrganSymptom
from ketaflow.clinical.pump import Delivered
from ketaflow.infusions import gates, loaded, services, stock
from ketaflow.infusions.access import PAGE_JOINS, SESSION_PEOPLE
from ketaflow.infusions.charts import delivered_pk_chart, vitals_chart
from ketaflow.infusions.lock import lock_problem
from ketaflow.infusions.models import (
    Addendum,
    InfusionEvent,
    InfusionSession,
    PrescriberDecision,
    SideEffect,
    VitalsEntry,
)
from ketaflow.infusions.policy import infusion_policy
from ketaflow.ledger.models import Vial
from ketaflow.patients.access import patients_for_user
from ketaflow.patients.models import Patient
from ketaflow.prepared import Prepared, prefetched, related_read, related_rows
from ketaflow.treatment.models import Appointment
from ketaflow.treatment.services import clinic_zone, schedule_settings
from ketaflow.web.charts import SvgChart
from ketaflow.web.reads import unread_but

ACTION_TEXT: dict[str, str] = {action: action.label for action in MonitoringAction}


@dataclass
class Page:
    """A page's data; :meth:`context` hands its fields to the template by name."""

    def context(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def session_reread(session_id: int) -> InfusionSession:
    """The session as the database holds it now, with what its page joins: for a page shown
    after a write (the access check's object predates the write)."""
    return InfusionSession.objects.select_related("patient__clinic", *PAGE_JOINS).get(pk=session_id)


# Each kind of record of a session, and its questionnaire answers, in statements compiled once
# per process (ketaflow.prepared, issue 16): kept on the session as Django's prefetch keeps them.
_RECORDS = {
    relation: related_read(InfusionSession, relation)
    for relation in ("events", "vitals", "side_effects", "decisions", "addenda")
}
# A reading's assessment (the whole MonitoringAssessment as computed, about 2 KB of JSON, a
# sixth of a reading's read) is shown nowhere on the page: only a signed note's seal hashes
# it, so an unsigned session's page reads its readings without it. Asked for anyway, Django
# reads it then (a deferred field), so nothing can get a wrong value, only a slower one.
_VITALS_SHOWN = Prepared(lambda key: VitalsEntry.objects.filter(session_id=key).defer("assessment"))
_RESPONSES = Prepared(
    lambda session_id: InstrumentResponse.objects.filter(infusion_session_id=session_id).order_by(
        "taken_at", "pk"
    )
)


def session_with_records(session: InfusionSession) -> InfusionSession:
    """``session`` (read by :func:`~ketaflow.infusions.access.session_for_user` with
    ``for_page``, or by :func:`session_reread`) with every record its page shows, one query a
    kind of record: its rows are prefetched onto this object, not read again. Addenda only
    for a signed note: they are written after the lock (``services.addendum_add`` refuses
    them before it, and a note never unlocks). The people the session and its records name
    are read once for all of them (:func:`_attach_people`), and a correction's corrected
    reading and a decision's reading are the session's own readings, not read again."""
    records = ["events", "vitals", "side_effects", "decisions"]
    if session.locked:
        records.append("addenda")
    for relation in records:
        read = _RECORDS[relation]
        if relation == "vitals" and not session.locked:
            read = _VITALS_SHOWN
        prefetched(session, relation, related_rows(session, relation, read))
    vitals = loaded.session_rows(session, "vitals")
    decisions = loaded.session_rows(session, "decisions")
    _attach_rows(vitals, "corrects", vitals)
    _attach_rows(decisions, "reading", vitals)
    _attach_people(
        [
            ([session], SESSION_PEOPLE),
            (loaded.session_rows(session, "events"), ("by",)),
            (vitals, ("by",)),
            (loaded.session_rows(session, "side_effects"), ("by",)),
            (decisions, ("by",)),
            (loaded.session_rows(session, "addenda") if session.locked else [], ("author",)),
        ]
    )
    loaded.preload(
        session,
        responses=_RESPONSES.all(session_id=session.pk),
        schedule=schedule_settings(session.patient.clinic),
    )
    return session


def _attach_rows(rows: list[Any], field: str, among: list[VitalsEntry]) -> None:
    """Set each row's ``field`` (a reading of the same session) from ``among``, the readings
    already read; a reading not among them is left to be read when it is asked for."""
    by_pk = {v.pk: v for v in among}
    for row in rows:
        found = by_pk.get(getattr(row, f"{field}_id"))
        if found is not None:
            setattr(row, field, found)


def _attach_people(groups: list[tuple[list[Any], tuple[str, ...]]]) -> None:
    """Set each ``(rows, fields)`` group's person fields (foreign keys to a user) from one
    read of every user they name."""
    wanted = {
        getattr(row, f"{name}_id") for rows, names in groups for row in rows for name in names
    }
    wanted.discard(None)
    people = User.objects.in_bulk(wanted) if wanted else {}
    for rows, names in groups:
        for row in rows:
            for name in names:
                person = people.get(getattr(row, f"{name}_id"))
                if person is not None:
                    setattr(row, name, person)


@dataclass
class SessionPage(Page):
    """The infusion session page: every card's data at one ``now``."""

    session: InfusionSession
    patient: Any
    appointment: Any
    today: dt.date
    age: int
    S: type[InfusionSession.Status]
    before_start: bool
    infusing: bool
    after_stop: bool
    lock_problem: str
    may_chart: bool
    may_sign: bool
    may_addendum: bool
    may_acknowledge: bool
    may_override: bool
    problems: list[str]
    pregnancy_applies: bool
    risk_flags: list[str]
    pre: dict[str, Any]
    baseline: VitalsEntry | None
    plan: Any
    plan_warnings: list[Any]
    bag_convention: Any
    weight_lb: float | None
    events: list[InfusionEvent]
    delivered: Any
    now: dt.datetime
    clinic_tz: str
    bag: Any
    bag_done: bool
    vitals_due: Any
    schedule: Any
    vitals_rows: list[dict[str, Any]]
    alert: VitalsEntry | None
    alert_actions: list[str]
    chart: Any
    pk_chart: Any
    side_effects: list[SideEffect]
    cadss: list[InstrumentResponse]
    aldrete: list[InstrumentResponse]
    aldrete_minimum: Any
    addenda: list[Addendum]
    policy: Any
    vial_card: stock.SessionVial
    vial_correctable: bool
    stock_vials: list[Vial]
    baseline_problem: str
    baseline_overridden: bool
    baseline_text: str
    awaiting_decision: VitalsEntry | None
    urgent_readings: list[VitalsEntry]
    decisions: list[PrescriberDecision]
    observation_min: int
    observation_until: dt.datetime | None
    observed_min: float | None
    cosign_reasons: list[str]
    reason_choices: list[tuple[str, str]]
    stop_early: bool


def _vitals_rows(entries: list[VitalsEntry]) -> list[dict[str, Any]]:
    corrected = {v.corrects_id for v in entries if v.corrects_id is not None}
    return [
        {
            "entry": v,
            "struck": v.pk in corrected,
            "actions": [ACTION_TEXT.get(a, a) for a in v.actions],
        }
        for v in entries
    ]


def _pre(session: InfusionSession) -> dict[str, Any]:
    responses = services.pre_infusion_responses(session)
    return {i.label: responses.get(i.value) for i in services.PRE_INFUSION_INSTRUMENTS}


def session_page(user: User, session: InfusionSession, now: dt.datetime) -> SessionPage:
    """The session page's data for ``user`` (who has passed :func:`session_for_user`, which
    read ``session``; after a write, :func:`session_reread`)."""
    session = session_with_records(session)
    clinic = session.patient.clinic
    policy = infusion_policy()
    today = clinic_today(clinic)
    events = loaded.session_rows(session, "events")
    vitals = services.effective_vitals(session)
    base = services.baseline_vitals(session)
    alert = services.active_alert(session)
    plan = session.plan or {}
    card = stock.session_vial(session)
    infusing = session.status in services.INFUSING
    before_start = session.status in services.BEFORE_START
    may_chart = (
        user.may(Perm.CHART_INFUSION)
        and not session.locked
        # Signed by the nurse and awaiting co-signature: nothing changes until co-signed.
        and session.status != InfusionSession.Status.COSIGN
    )
    correctable = (
        session.status in stock.CORRECTABLE and card.draw is not None and not card.dispositions
    )
    delivered = services.session_delivered(session, until=now)
    return SessionPage(
        session=session,
        patient=session.patient,
        appointment=session.appointment,
        today=today,
        age=session.patient.age_on(today),
        S=InfusionSession.Status,
        before_start=before_start,
        infusing=infusing,
        after_stop=session.status in services.AFTER_STOP,
        lock_problem=lock_problem(session, as_read=True),
        may_chart=may_chart,
        may_sign=user.may(Perm.SIGN_INFUSION_NOTE),
        may_addendum=user.may(Perm.CHART_INFUSION),
        may_acknowledge=user.may(Perm.ORDER_INFUSION),
        may_override=user.may(Perm.OVERRIDE_SOFT_LIMIT),
        problems=services.start_problems(session, user) if before_start else [],
        pregnancy_applies=services.pregnancy_test_applies(session.patient, today, policy),
        risk_flags=services.risk_flags(session),
        pre=_pre(session),
        baseline=base,
        plan=plan,
        plan_warnings=plan.get("warnings", []) if isinstance(plan, dict) else [],
        bag_convention=BAG_CONVENTION,
        weight_lb=kg_to_pounds(float(session.weight_kg)) if session.weight_kg is not None else None,
        events=events,
        delivered=delivered,
        now=now,
        clinic_tz=clinic.time_zone,
        bag=(bag := services.session_bag(session, now)),
        bag_done=bag is not None and bag.complete and infusing,
        vitals_due=services.session_vitals_due(session, now),
        schedule=loaded.schedule(session),
        vitals_rows=_vitals_rows(loaded.session_rows(session, "vitals")),
        alert=alert,
        alert_actions=[ACTION_TEXT.get(a, a) for a in alert.actions] if alert else [],
        chart=vitals_chart(vitals, events, now),
        pk_chart=delivered_pk_chart(session, now, events) if events else None,
        side_effects=loaded.session_rows(session, "side_effects"),
        cadss=services.session_responses(session, Instrument.CADSS),
        aldrete=services.session_responses(session, Instrument.ALDRETE),
        aldrete_minimum=policy.aldrete_discharge_minimum,
        addenda=loaded.session_rows(session, "addenda") if session.locked else [],
        policy=policy,
        vial_card=card,
        vial_correctable=correctable,
        # The clinic's stock only where the vial form offers it.
        stock_vials=stock.stock_on_hand(clinic, on=today)
        if may_chart and (before_start or correctable)
        else [],
        baseline_problem=gates.baseline_problem(session, base),
        baseline_overridden=base is not None and session.baseline_override_vitals_id == base.pk,
        baseline_text=gates.reading_text(base) if base is not None else "",
        awaiting_decision=gates.awaiting_decision(session, vitals) if infusing else None,
        urgent_readings=gates.urgent_readings(vitals),
        decisions=loaded.session_rows(session, "decisions"),
        observation_min=gates.observation_min(session),
        observation_until=gates.observation_until(session),
        observed_min=gates.observed_min(session, session.discharged_at or now),
        cosign_reasons=gates.cosign_reasons(session, vitals),
        reason_choices=[("", "Choose a reason")]
        + [(v, label) for v, label in InfusionEvent.Reason.choices if v],
        stop_early=infusing and gates.stop_is_early(session, delivered.volume_ml),
    )


@dataclass
class TodayPage(Page):
    """Today's infusions at the user's clinic: one row an appointment."""

    rows: list[dict[str, Any]]
    day: dt.date
    may_open: bool
    now: dt.datetime

    @property
    def appointment_ids(self) -> list[int]:
        return [row["appointment"].pk for row in self.rows]

    @property
    def patient_ids(self) -> list[int]:
        return [row["appointment"].patient_id for row in self.rows]


def _session_of(appointment: Appointment) -> InfusionSession | None:
    """The appointment's session as joined to it (None: not opened), with its patient."""
    try:
        session: InfusionSession = appointment.infusion_session
    except InfusionSession.DoesNotExist:
        return None
    if session.patient_id == appointment.patient_id:
        session.patient = appointment.patient
    return session


def _today_row(
    appointment: Appointment, session: InfusionSession | None, now: dt.datetime
) -> dict[str, Any]:
    """One line of Today's infusions: a running infusion's expected end (or when its bag was
    infused) and, while the patient is monitored, when the next vitals are due."""
    row: dict[str, Any] = {
        "appointment": appointment,
        "session": session,
        "clinic_tz": appointment.patient.clinic.time_zone,
    }
    if session is not None:
        row["bag"] = (
            services.session_bag(session, now) if session.status in services.INFUSING else None
        )
        row["vitals_due"] = services.session_vitals_due(session, now)
    return row


# A patient in one of these states is still in the chair: monitored, whatever day it began.
IN_THE_CHAIR = (*services.INFUSING, *services.AFTER_STOP)

# What Today's infusions shows of each appointment's patient and nurse: a name (and the patient's
# clinic, for its time zone). With their whole rows the page's one statement had 116 columns and
# took 4.8 ms to compile.
TODAY_UNREAD = [
    *unread_but("patient", Patient, Patient.NAME_FIELDS),
    *unread_but("nurse", User, User.NAME_FIELDS),
]


def today_page(user: User, clinic: Clinic, now: dt.datetime) -> TodayPage:
    """The clinic's appointments of its day with their sessions, and every infusion of an earlier
    day whose patient is still in the chair (one that began at 23:40 is still watched at 00:05;
    it left the list at the clinic's midnight). Each session's pump events and vitals are read
    once for all rows."""
    day = clinic_today(clinic)
    start = dt.datetime.combine(day, dt.time.min, tzinfo=clinic_zone(clinic))
    of_the_day = Q(starts_at__gte=start, starts_at__lt=start + dt.timedelta(days=1))
    still_in_the_chair = Q(starts_at__lt=start, infusion_session__status__in=IN_THE_CHAIR)
    # Each appointment's session (if opened) joined to its row, and its patient: the
    # appointment's (a session is its appointment's patient's, services.session_open).
    appointments = list(
        Appointment.objects.filter(
            of_the_day | still_in_the_chair, patient__in=patients_for_user(user)
        )
        .select_related("patient__clinic", "chair", "nurse", "infusion_session")
        .defer(*TODAY_UNREAD)
        # The vitals decide when the next are due; who took them is not shown here.
        .prefetch_related("infusion_session__events", "infusion_session__vitals")
        .order_by("starts_at")
    )
    schedule = schedule_settings(clinic)
    rows = []
    for appointment in appointments:
        session = _session_of(appointment)
        if session is not None:
            loaded.preload(session, schedule=schedule)
        rows.append(_today_row(appointment, session, now))
    return TodayPage(
        rows=rows,
        day=day,
        may_open=user.may(Perm.CHART_INFUSION),
        now=now,
    )


def vitals_entry(session: InfusionSession, entry_id: int) -> VitalsEntry | None:
    """One vitals entry of the session, by its id."""
    return session.vitals.filter(pk=entry_id).first()


def vitals_entry_sent(session: InfusionSession, client_uuid: uuid.UUID) -> VitalsEntry | None:
    """The session's vitals entry sent with ``client_uuid`` (the form's once-only key)."""
    return session.vitals.filter(client_uuid=client_uuid).first()


# ---- the printable flowsheet ----------------------------------------------------------------
# One page per session for the paper chart or a transfer to an emergency department (vitals
# table and chart, events, dose, vial and lot, side effects, CADSS and Aldrete, discharge and
# signatures), in words (no stored codes) and with the clinic's time zone for every time; the
# view audits the read (``services.session_viewed``).

LEVEL_TEXT: dict[str, str] = {
    AlertLevel.NORMAL: "Normal",
    AlertLevel.ABNORMAL: "Abnormal",
    AlertLevel.CRITICAL: "Critical",
    AlertLevel.EMERGENCY: "Emergency",
}


def _words(values: list[str], enum: Any) -> list[str]:
    """Labels of stored codes; an unknown code (from an older version) shown as words."""
    out = []
    for value in values:
        try:
            out.append(str(enum(value).label))
        except ValueError:
            out.append(value.replace("_", " "))
    return out


@dataclass(frozen=True)
class FlowsheetVitalsRow:
    entry: VitalsEntry
    struck: bool  # corrected by a later entry: shown struck through, as on paper
    level: str
    symptoms: list[str]
    actions: list[str]


def _flowsheet_vitals_rows(session: InfusionSession) -> list[FlowsheetVitalsRow]:
    entries = list(session.vitals.select_related("by", "corrects"))
    corrected = {v.corrects_id for v in entries if v.corrects_id is not None}
    return [
        FlowsheetVitalsRow(
            entry=v,
            struck=v.pk in corrected,
            level=LEVEL_TEXT.get(v.level, v.level.capitalize()),
            symptoms=_words(list(v.symptoms), EndOrganSymptom),
            actions=_words(list(v.actions), MonitoringAction),
        )
        for v in entries
    ]


def _minutes(start: dt.datetime | None, end: dt.datetime | None) -> int | None:
    if start is None or end is None:
        return None
    return int((end - start).total_seconds() // 60)


@dataclass
class FlowsheetPage(Page):
    """Everything the printed flowsheet shows (times are aware datetimes; the template renders
    them in ``time_zone``, the clinic's)."""

    session: InfusionSession
    patient: Any
    appointment: Any
    clinic: Clinic
    time_zone: str
    age: int
    events: list[InfusionEvent]
    vitals_rows: list[FlowsheetVitalsRow]
    chart: SvgChart | None
    delivered: Delivered
    side_effects: list[SideEffect]
    pre: list[tuple[str, InstrumentResponse]]
    cadss: list[InstrumentResponse]
    aldrete: list[InstrumentResponse]
    observed_min: int | None
    addenda: list[Addendum]
    printed_at: dt.datetime


def flowsheet_page(session: InfusionSession, now: dt.datetime) -> FlowsheetPage:
    """The printable flowsheet of ``session`` (which the caller has passed
    :func:`~ketaflow.infusions.access.session_for_user` for), printed at ``now``."""
    clinic = session.patient.clinic
    zone = clinic_zone(clinic)
    events = list(session.events.select_related("by"))
    with timezone.override(zone):  # the chart's axis labels in the clinic's time
        chart = vitals_chart(services.effective_vitals(session), events, now)
    until = session.ended_at or now
    return FlowsheetPage(
        session=session,
        patient=session.patient,
        appointment=session.appointment,
        clinic=clinic,
        time_zone=clinic.time_zone,
        age=session.patient.age_on(clinic_day(clinic, now)),
        events=events,
        vitals_rows=_flowsheet_vitals_rows(session),
        chart=chart,
        delivered=services.session_delivered(session, until=until),
        side_effects=list(session.side_effects.select_related("by")),
        pre=[
            (str(Instrument(code).label), response)
            for code, response in services.pre_infusion_responses(session).items()
        ],
        cadss=services.session_responses(session, Instrument.CADSS),
        aldrete=services.session_responses(session, Instrument.ALDRETE),
        observed_min=_minutes(session.ended_at, session.discharged_at),
        addenda=list(session.addenda.select_related("author")),
        printed_at=now,
    )
