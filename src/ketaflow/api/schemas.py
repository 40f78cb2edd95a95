"""The API's request and response shapes (pydantic, through django-ninja): the OpenAPI schema
is generated from them, and every response is checked against them."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated

from ninja import Schema
from pydantic import Field

from ketaflow.clinical.instruments import Instrument
from ketaflow.clinical.monitoring import EndOrganSymptom


class FieldError(Schema):
    field: str
    rule: str
    message: str


class ErrorOut(Schema):
    detail: str
    errors: list[FieldError] = []


class TokenOut(Schema):
    prefix: str
    name: str
    user: str
    clinic: str
    scopes: list[str]
    expires_at: dt.datetime


# ---- records ----------------------------------------------------------------------------------

# Whole numbers the database stores (64-bit): a larger one is refused as input, not a crash.
BIG = 2**63 - 1
SMALL_INT = Annotated[int, Field(ge=-(2**31), le=2**31 - 1)]


class PatientSummaryOut(Schema):
    id: int
    mrn: str
    display_name: str
    date_of_birth: dt.date


class PatientOut(PatientSummaryOut):
    given_name: str
    family_name: str
    preferred_name: str
    sex_at_birth: str
    sex_at_birth_label: str
    pronouns: str
    phone: str
    email: str


class CandidacyOut(Schema):
    id: int
    created_at: dt.datetime
    decision: str
    decision_label: str
    indications: list[str]
    summary: str
    status: str
    status_label: str
    signed_by: str | None
    signed_at: dt.datetime | None


class AppointmentOut(Schema):
    id: int
    sequence: int
    starts_at: dt.datetime
    ends_at: dt.datetime
    status: str
    status_label: str
    chair: str


class CourseOut(Schema):
    id: int
    kind: str
    kind_label: str
    indication: str
    indication_label: str
    dose_mg_per_kg: float
    duration_min: float
    infusions_planned: int
    start_on: dt.date
    status: str
    status_label: str
    appointments: list[AppointmentOut]


class SessionOut(Schema):
    id: int
    patient_id: int
    appointment_id: int
    status: str
    status_label: str
    dose_mg: float | None
    started_at: dt.datetime | None
    ended_at: dt.datetime | None
    delivered_dose_mg: float | None
    discharged_at: dt.datetime | None
    signed_at: dt.datetime | None
    locked: bool


class VitalsOut(Schema):
    id: int
    client_uuid: uuid.UUID
    phase: str
    phase_label: str
    measured_at: dt.datetime
    systolic_mmhg: int
    diastolic_mmhg: int
    heart_rate_bpm: int
    spo2_percent: int
    respiratory_rate_per_min: int | None
    symptoms: list[str]
    level: str
    actions: list[str]
    reasons: list[str]
    corrects_id: int | None


class VitalsIn(Schema):
    client_uuid: uuid.UUID = Field(
        description="Chosen by the caller: repeating a call with the same value records once."
    )
    systolic_mmhg: SMALL_INT
    diastolic_mmhg: SMALL_INT
    heart_rate_bpm: SMALL_INT
    spo2_percent: SMALL_INT
    respiratory_rate_per_min: SMALL_INT | None = None
    symptoms: list[EndOrganSymptom] = []
    measured_at: dt.datetime | None = Field(
        default=None, description="When measured (with its offset); now if left out."
    )


class QuestionnaireIn(Schema):
    instrument: Instrument
    answers: list[SMALL_INT] | list[bool] = Field(
        description="One rating per item in order; yes/no (true/false) for the C-SSRS."
    )
    taken_at: dt.datetime | None = Field(
        default=None, description="When the patient answered (with its offset); now if left out."
    )


class QuestionnaireOut(Schema):
    id: int
    patient_id: int
    instrument: str
    instrument_label: str
    total: float
    suicide_risk_flag: bool
    taken_at: dt.datetime
    urgent_task_id: int | None = Field(
        description="The urgent safety task the answers raised for the clinicians, if any."
    )


class PointOut(Schema):
    on: dt.date
    score: int


class MeasureOut(Schema):
    code: str
    label: str
    max_score: int
    status: str
    status_label: str
    explanation: str
    baseline: PointOut | None
    latest: PointOut | None
    points: list[PointOut]
    time_to_response_days: int | None
    weeks_in_response: float | None


class OutcomesOut(Schema):
    patient_id: int
    measures: list[MeasureOut]
    infusion_days: list[dt.date]
    induction_end: dt.date | None


class ReportOut(Schema):
    name: str
    title: str
    subtitle: list[str]
    headers: list[str]
    rows: list[list[str]]


class AuditEntryOut(Schema):
    id: int
    seq: int
    at: dt.datetime
    actor: str
    role: str
    action: str
    action_label: str
    object_type: str
    object_id: str
    patient_id: int | None
    patient_mrn: str | None
    summary: str
