"""The API's operations. Thin: each checks the token's scope, calls the access function of its
record kind (404 for another clinic, 403 for the role), a selector or a service (audited like
the page that shows the same), and returns the record's shape."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Annotated, Literal

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import HttpRequest
from ninja import NinjaAPI, Path, Query, Status

from ketaflow.accounts.roles import Perm
from ketaflow.api.auth import TokenAuth, TokenThrottle, api_token, api_user, require_scope
from ketaflow.api.errors import errors, install
from ketaflow.api.schemas import (
    BIG,
    AppointmentOut,
    AuditEntryOut,
    CandidacyOut,
    CourseOut,
    MeasureOut,
    OutcomesOut,
    PatientOut,
    PatientSummaryOut,
    PointOut,
    QuestionnaireIn,
    QuestionnaireOut,
    ReportOut,
    SessionOut,
    TokenOut,
    VitalsIn,
    VitalsOut,
)
from ketaflow.audit.context import Actor
from ketaflow.audit.models import AuditEntry
from ketaflow.audit.selectors import auditor_clinic, entries_filtered, record_numbers
from ketaflow.audit.services import trail_read
from ketaflow.infusions import services as infusion_services
from ketaflow.infusions.access import session_for_user
from ketaflow.infusions.models import InfusionSession, VitalsEntry
from ketaflow.ledger import reports
from ketaflow.ledger import services as ledger_services
from ketaflow.ledger.access import ledger_for_user
from ketaflow.outcomes import services as outcome_services
from ketaflow.outcomes.selectors import Point, trajectory
from ketaflow.patients import services as patient_services
from ketaflow.patients.access import patient_for_user
from ketaflow.patients.models import Patient
from ketaflow.patients.selectors import patient_search
from ketaflow.portal.answers import response_record
from ketaflow.portal.models import UrgentTask
from ketaflow.treatment.services import clinic_today

api = NinjaAPI(
    title="KetaFlow API",
    version="1",
    description=(
        "The clinic's records for referring clinicians and other tools. Every call needs a "
        "token (`Authorization: Bearer TOKEN`) from `ketaflow api token create` or the user's "
        "API tokens page, scoped by resource and read/write; a token reaches its clinic only, "
        "every call is audited and calls are throttled per token."
    ),
    urls_namespace="api",
    auth=TokenAuth(),
    throttle=[TokenThrottle()],
    openapi_url="/schema/",
    docs_url="/schema/docs/",
)
install(api)


@api.get("/token/", response=errors({200: TokenOut}), tags=["tokens"])
def token_self(request: HttpRequest) -> TokenOut:
    """The calling token: whose, which clinic, its scopes and expiry."""
    token = api_token(request)
    return TokenOut(
        prefix=token.prefix,
        name=token.name,
        user=token.user.username,
        clinic=token.clinic.slug,
        scopes=list(token.scopes),
        expires_at=token.expires_at,
    )


# ---- patients ---------------------------------------------------------------------------------

Id = Annotated[int, Path(ge=1, le=BIG)]
Text = Annotated[str, Query(max_length=100, pattern=r"^[^\x00]*$")]
Limit = Annotated[int, Query(ge=1, le=200)]
Offset = Annotated[int, Query(ge=0, le=BIG)]
# A day a report or filter may name (a day outside it cannot be computed with, nor recorded).
Day = Annotated[dt.date | None, Query(ge=dt.date(1900, 1, 1), le=dt.date(2999, 12, 31))]


def _patient(request: HttpRequest, scope: str, patient_id: int, need: Perm) -> Patient:
    actor = require_scope(request, scope)
    return patient_for_user(api_user(request), patient_id, need=need, actor=actor)


def _patient_summary(p: Patient) -> PatientSummaryOut:
    return PatientSummaryOut(
        id=p.pk, mrn=p.mrn, display_name=p.display_name, date_of_birth=p.date_of_birth
    )


@api.get("/patients/", response=errors({200: list[PatientSummaryOut]}), tags=["patients"])
def patient_list(
    request: HttpRequest, q: Text = "", limit: Limit = 50, offset: Offset = 0
) -> list[PatientSummaryOut]:
    """The clinic's patients (a name, record number or phone narrows them), as on the Patients
    page; the call is audited naming every patient returned."""
    actor = require_scope(request, "patients:read")
    user = api_user(request)
    if not user.may(Perm.LIST_PATIENTS):
        raise PermissionDenied("Your role may not list patients.")
    query = q.strip()
    shown = list(patient_search(user, query).patients.order_by("pk")[offset : offset + limit])
    patient_services.patient_list_viewed(
        actor=actor, query=query, patient_ids=[p.pk for p in shown]
    )
    return [_patient_summary(p) for p in shown]


@api.get("/patients/{patient_id}/", response=errors({200: PatientOut}), tags=["patients"])
def patient_detail(request: HttpRequest, patient_id: Id) -> PatientOut:
    """One patient's demographics."""
    patient = _patient(request, "patients:read", patient_id, Perm.VIEW_DEMOGRAPHICS)
    patient_services.chart_viewed(
        actor=Actor.from_request(request), patient=patient, sections=["demographics (API)"]
    )
    return PatientOut(
        **_patient_summary(patient).dict(),
        given_name=patient.given_name,
        family_name=patient.family_name,
        preferred_name=patient.preferred_name,
        sex_at_birth=patient.sex_at_birth,
        sex_at_birth_label=patient.get_sex_at_birth_display(),
        pronouns=patient.pronouns,
        phone=patient.phone,
        email=patient.email,
    )


@api.get(
    "/patients/{patient_id}/candidacy/",
    response=errors({200: list[CandidacyOut]}),
    tags=["candidacy"],
)
def candidacy_list(request: HttpRequest, patient_id: Id) -> list[CandidacyOut]:
    """The patient's candidacy decisions, newest first, with their sign-off."""
    patient = _patient(request, "candidacy:read", patient_id, Perm.VIEW_CLINICAL)
    rows = patient.candidacies.select_related("signed_by").order_by("-created_at", "-pk")
    patient_services.chart_viewed(
        actor=Actor.from_request(request), patient=patient, sections=["candidacy (API)"]
    )
    return [
        CandidacyOut(
            id=c.pk,
            created_at=c.created_at,
            decision=c.decision,
            decision_label=c.get_decision_display(),
            indications=[str(i) for i in c.indications],
            summary=c.summary,
            status=c.status,
            status_label=c.get_status_display(),
            signed_by=c.signed_by.username if c.signed_by else None,
            signed_at=c.signed_at,
        )
        for c in rows
    ]


@api.get(
    "/patients/{patient_id}/courses/", response=errors({200: list[CourseOut]}), tags=["courses"]
)
def course_list(request: HttpRequest, patient_id: Id) -> list[CourseOut]:
    """The patient's courses, each with its appointments."""
    patient = _patient(request, "courses:read", patient_id, Perm.VIEW_CLINICAL)
    courses = patient.courses.prefetch_related("appointments__chair").order_by("start_on", "pk")
    patient_services.chart_viewed(
        actor=Actor.from_request(request), patient=patient, sections=["courses (API)"]
    )
    return [
        CourseOut(
            id=c.pk,
            kind=c.kind,
            kind_label=c.get_kind_display(),
            indication=c.indication,
            indication_label=c.get_indication_display(),
            dose_mg_per_kg=float(c.dose_mg_per_kg),
            duration_min=float(c.duration_min),
            infusions_planned=c.infusions_planned,
            start_on=c.start_on,
            status=c.status,
            status_label=c.get_status_display(),
            appointments=[
                AppointmentOut(
                    id=a.pk,
                    sequence=a.sequence,
                    starts_at=a.starts_at,
                    ends_at=a.ends_at,
                    status=a.status,
                    status_label=a.get_status_display(),
                    chair=a.chair.name,
                )
                for a in sorted(c.appointments.all(), key=lambda a: (a.starts_at, a.pk))
            ],
        )
        for c in courses
    ]


# ---- infusion sessions and vitals --------------------------------------------------------------


def _session_out(s: InfusionSession) -> SessionOut:
    return SessionOut(
        id=s.pk,
        patient_id=s.patient_id,
        appointment_id=s.appointment_id,
        status=s.status,
        status_label=s.get_status_display(),
        dose_mg=s.dose_mg,
        started_at=s.started_at,
        ended_at=s.ended_at,
        delivered_dose_mg=s.delivered_dose_mg,
        discharged_at=s.discharged_at,
        signed_at=s.signed_at,
        locked=s.locked,
    )


def _vitals_out(v: VitalsEntry) -> VitalsOut:
    return VitalsOut(
        id=v.pk,
        client_uuid=v.client_uuid,
        phase=v.phase,
        phase_label=v.get_phase_display(),
        measured_at=v.measured_at,
        systolic_mmhg=v.systolic_mmhg,
        diastolic_mmhg=v.diastolic_mmhg,
        heart_rate_bpm=v.heart_rate_bpm,
        spo2_percent=v.spo2_percent,
        respiratory_rate_per_min=v.respiratory_rate_per_min,
        symptoms=[str(x) for x in v.symptoms],
        level=v.level,
        actions=[str(x) for x in v.actions],
        reasons=[str(x) for x in v.reasons],
        corrects_id=v.corrects_id,
    )


def _session(request: HttpRequest, scope: str, session_id: int, need: Perm) -> InfusionSession:
    actor = require_scope(request, scope)
    return session_for_user(api_user(request), session_id, need=need, actor=actor)


@api.get(
    "/patients/{patient_id}/sessions/",
    response=errors({200: list[SessionOut]}),
    tags=["infusion sessions"],
)
def session_list(request: HttpRequest, patient_id: Id) -> list[SessionOut]:
    """The patient's infusion sessions, oldest first."""
    patient = _patient(request, "sessions:read", patient_id, Perm.VIEW_CLINICAL)
    sessions = InfusionSession.objects.filter(patient=patient).order_by("created_at", "pk")
    patient_services.chart_viewed(
        actor=Actor.from_request(request), patient=patient, sections=["infusion sessions (API)"]
    )
    return [_session_out(s) for s in sessions]


@api.get("/sessions/{session_id}/", response=errors({200: SessionOut}), tags=["infusion sessions"])
def session_detail(request: HttpRequest, session_id: Id) -> SessionOut:
    """One infusion session: its state, dose and times."""
    session = _session(request, "sessions:read", session_id, Perm.VIEW_CLINICAL)
    infusion_services.session_viewed(
        actor=Actor.from_request(request), session=session, what="the session (API)"
    )
    return _session_out(session)


@api.get("/sessions/{session_id}/vitals/", response=errors({200: list[VitalsOut]}), tags=["vitals"])
def vitals_list(request: HttpRequest, session_id: Id) -> list[VitalsOut]:
    """The session's vitals, oldest first (a corrected entry and its correction both)."""
    session = _session(request, "vitals:read", session_id, Perm.VIEW_CLINICAL)
    entries = session.vitals.order_by("measured_at", "pk")
    infusion_services.session_viewed(
        actor=Actor.from_request(request), session=session, what="vitals (API)"
    )
    return [_vitals_out(v) for v in entries]


@api.post(
    "/sessions/{session_id}/vitals/",
    response=errors({201: VitalsOut}),
    tags=["vitals"],
)
def vitals_create(request: HttpRequest, session_id: Id, body: VitalsIn) -> Status[VitalsOut]:
    """Record a set of vitals, classified by the clinic's monitoring rules against the session's
    baseline, as at the chair: a critical reading raises the prescribers' urgent task."""
    session = _session(request, "vitals:write", session_id, Perm.CHART_INFUSION)
    entry = infusion_services.vitals_record(
        actor=Actor.from_request(request),
        session=session,
        client_uuid=body.client_uuid,
        systolic_mmhg=body.systolic_mmhg,
        diastolic_mmhg=body.diastolic_mmhg,
        heart_rate_bpm=body.heart_rate_bpm,
        spo2_percent=body.spo2_percent,
        respiratory_rate_per_min=body.respiratory_rate_per_min,
        symptoms=[s.value for s in body.symptoms],
        measured_at=body.measured_at,
    )
    return Status(201, _vitals_out(entry))


# ---- questionnaires and outcomes ---------------------------------------------------------------


@api.post(
    "/patients/{patient_id}/questionnaire-responses/",
    response=errors({201: QuestionnaireOut}),
    tags=["questionnaires"],
)
def questionnaire_create(
    request: HttpRequest, patient_id: Id, body: QuestionnaireIn
) -> Status[QuestionnaireOut]:
    """Record a questionnaire answered elsewhere. Scored as in the clinic; an answer that calls
    for it (PHQ-9 item 9 above 0, a C-SSRS yes) raises the urgent safety task at once."""
    patient = _patient(request, "questionnaires:write", patient_id, Perm.EDIT_CLINICAL)
    try:
        response = response_record(
            actor=Actor.from_request(request),
            patient=patient,
            instrument=body.instrument.value,
            answers=body.answers,
            context="api",
            taken_at=body.taken_at,
        )
    except ValueError as exc:
        raise DjangoValidationError({"answers": [str(exc)]}) from None
    task = UrgentTask.objects.filter(response=response).first()
    return Status(
        201,
        QuestionnaireOut(
            id=response.pk,
            patient_id=patient.pk,
            instrument=response.instrument,
            instrument_label=body.instrument.label,
            total=float(response.total),
            suicide_risk_flag=response.suicide_risk_flag,
            taken_at=response.taken_at,
            urgent_task_id=task.pk if task else None,
        ),
    )


def _point(p: Point | None) -> PointOut | None:
    return PointOut(on=p.on, score=p.score) if p is not None else None


@api.get("/patients/{patient_id}/outcomes/", response=errors({200: OutcomesOut}), tags=["outcomes"])
def outcomes(request: HttpRequest, patient_id: Id) -> OutcomesOut:
    """The patient's scores over time per measure and their response status, as on the
    outcomes page."""
    patient = _patient(request, "outcomes:read", patient_id, Perm.VIEW_CLINICAL)
    traj = trajectory(patient)
    outcome_services.trajectory_viewed(
        actor=Actor.from_request(request), patient=patient, what="trajectory (API)"
    )
    return OutcomesOut(
        patient_id=patient.pk,
        measures=[
            MeasureOut(
                code=m.code,
                label=m.label,
                max_score=m.max_score,
                status=m.status.value,
                status_label=m.status.label,
                explanation=m.explanation,
                baseline=_point(m.baseline),
                latest=_point(m.latest),
                points=[PointOut(on=p.on, score=p.score) for p in m.points],
                time_to_response_days=m.time_to_response_days,
                weeks_in_response=m.weeks_in_response,
            )
            for m in traj.measures
        ],
        infusion_days=list(traj.infusion_days),
        induction_end=traj.induction_end,
    )


# ---- ledger and audit trail --------------------------------------------------------------------


@api.get("/ledger/reports/{name}/", response=errors({200: ReportOut}), tags=["ledger"])
def ledger_report(
    request: HttpRequest,
    name: Literal["administration", "ledger", "discrepancies"],
    start: Day = None,
    end: Day = None,
) -> ReportOut:
    """A controlled-substance ledger report of the clinic, as on the ledger's reports page:
    the administration record or the full ledger between two days (default the last 31), or
    the discrepancy history."""
    actor = require_scope(request, "ledger:read")
    clinic = ledger_for_user(api_user(request), need=Perm.LEDGER_VIEW, actor=actor)
    today = clinic_today(clinic)
    end = end or today
    start = start or end - dt.timedelta(days=31)
    if start > end:
        raise DjangoValidationError({"start": ["must not be after end"]})
    builders: dict[str, Callable[[], reports.Report]] = {
        "administration": lambda: reports.administration_record(clinic, start, end),
        "ledger": lambda: reports.full_ledger(clinic, start, end),
        "discrepancies": lambda: reports.discrepancy_history(clinic),
    }
    built = builders[name]()
    ledger_services.ledger_viewed(
        actor=actor,
        what=f"report {name} (API)",
        object_type="ledger_report",
        object_id=name,
        patient_ids=built.patient_ids,
    )
    return ReportOut(
        name=built.name,
        title=built.title,
        subtitle=built.subtitle,
        headers=built.headers,
        rows=built.rows,
    )


@api.get("/audit/", response=errors({200: list[AuditEntryOut]}), tags=["audit trail"])
def audit_entries(
    request: HttpRequest,
    patient: Annotated[int | None, Query(ge=1, le=BIG)] = None,
    actor: Text = "",
    action: AuditEntry.Action | None = None,
    since: Day = None,
    until: Day = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> list[AuditEntryOut]:
    """The clinic's audit trail, newest first (the medical director): filtered by a patient of
    the clinic (id), a user name, an action and days. Reading it is audited."""
    who = require_scope(request, "audit:read")
    user = api_user(request)
    clinic = auditor_clinic(user, who)
    found = (
        patient_for_user(user, patient, need=Perm.VIEW_AUDIT_TRAIL, actor=who)
        if patient is not None
        else None
    )
    entries = entries_filtered(
        clinic,
        patient=found,
        actor=actor,
        action=action.value if action else "",
        since=since,
        until=until,
    )
    shown = list(entries[offset : offset + limit])
    mrns = record_numbers(user, shown)
    trail_read(
        actor=who,
        patient=found,
        shown=mrns,
        verified=False,
        filters={k: v for k, v in request.GET.items() if k not in ("limit", "offset")},
    )
    return [
        AuditEntryOut(
            id=e.pk,
            seq=e.seq,
            at=e.at,
            actor=e.actor_username,
            role=e.actor_role,
            action=e.action,
            action_label=e.get_action_display(),
            object_type=e.object_type,
            object_id=e.object_id,
            patient_id=e.patient_id,
            patient_mrn=mrns.get(e.patient_id) if e.patient_id is not None else None,
            summary=e.summary,
        )
        for e in shown
    ]
