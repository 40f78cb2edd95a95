"""The research export's reads: one clinic's treated patients as the de-identified tables of
``ketaflow.clinical.deidentify.TABLES``.

Only the columns the tables declare are read into rows; every date goes through the export's
:class:`~ketaflow.clinical.deidentify.Pseudonyms` (one secret offset per patient), every record
gets a random research id, and no free text is selected. Outcomes come from the outcome
dashboard's and the trajectory's own selectors, PK predictions from ``ketaflow.pk`` through the
infusion chart's ``delivered_regimen``. Reads only: the service audits the export.
"""

from __future__ import annotations

import datetime as dt
import secrets
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Max

from ketaflow.accounts.clinictime import clinic_day
from ketaflow.accounts.models import Clinic
from ketaflow.assessments.models import InstrumentResponse
from ketaflow.clinical import Instrument
from ketaflow.clinical.deidentify import (
    TABLES,
    Cell,
    Pseudonyms,
    age_group,
    age_years,
    check_rows,
    icd10_category,
    zip3,
)
from ketaflow.clinical.monitoring import AlertLevel
from ketaflow.clinical.pump import PumpEventKind
from ketaflow.infusions.charts import delivered_regimen
from ketaflow.infusions.models import AdverseEvent, InfusionSession
from ketaflow.outcomes.dashboard import course_outcome
from ketaflow.outcomes.models import BoosterRecommendation
from ketaflow.outcomes.selectors import trajectory
from ketaflow.patients.models import Diagnosis, Patient
from ketaflow.pk import Covariates, OutOfPopulationWarning, get_model, simulate, time_grid
from ketaflow.pk.models import DEFAULT_MODEL
from ketaflow.portal.models import UrgentTask
from ketaflow.treatment.models import Course

Row = dict[str, Cell]
Progress = Callable[[int, int], None]  # (patients done, patients in all)

# The PK prediction's window after the end of the infusion (the infusion chart's own window).
PK_AFTER_END_MIN = 180


@dataclass(frozen=True)
class ResearchData:
    """The export's tables by name, each a list of rows with exactly the declared columns."""

    tables: dict[str, list[Row]]

    def counts(self) -> dict[str, int]:
        return {name: len(rows) for name, rows in self.tables.items()}


def research_patients(clinic: Clinic) -> list[Patient]:
    """The clinic's patients with at least one course (a merged-away duplicate is left out: its
    records moved to the surviving patient)."""
    return list(
        Patient.objects.filter(clinic=clinic, merged_into__isnull=True, courses__isnull=False)
        .distinct()
        .order_by("pk")
    )


def _day(clinic: Clinic, at: dt.datetime | None) -> dt.date | None:
    return clinic_day(clinic, at) if at is not None else None


def _float(value: Decimal | float | None) -> float | None:
    """A stored number as a float, exactly as stored (never rounded); None stays None."""
    return float(value) if value is not None else None


def _minutes(start: dt.datetime | None, at: dt.datetime | None) -> float | None:
    if start is None or at is None:
        return None
    return round((at - start).total_seconds() / 60, 1)


def research_data(
    clinic: Clinic, pseudonyms: Pseudonyms, progress: Progress | None = None
) -> ResearchData:
    """Every table of the export for ``clinic``. ``progress(done, total)`` is called after each
    patient."""
    tables: dict[str, list[Row]] = {t.name: [] for t in TABLES}
    patients = research_patients(clinic)
    # In random order: the order of registration (of the internal ids) is not exported either.
    secrets.SystemRandom().shuffle(patients)
    for done, patient in enumerate(patients, start=1):
        _patient_rows(clinic, patient, pseudonyms, tables)
        if progress is not None:
            progress(done, len(patients))
    for table in TABLES:
        check_rows(table, tables[table.name])
    return ResearchData(tables)


def _patient_rows(
    clinic: Clinic, patient: Patient, ps: Pseudonyms, tables: dict[str, list[Row]]
) -> None:
    key = patient.pk
    pid = ps.research_id("P", ("patient", key))
    courses = list(Course.objects.filter(patient=patient).order_by("start_on", "pk"))
    first = courses[0]
    categories = sorted(
        {
            icd10_category(c)
            for c in Diagnosis.objects.filter(patient=patient).values_list("code", flat=True)
        }
    )
    tables["patients"].append(
        {
            "patient_id": pid,
            "age_group": age_group(age_years(patient.date_of_birth, first.start_on)),
            "sex_at_birth": patient.sex_at_birth,
            "zip3": zip3(patient.postal_code),
            "indication": first.indication,
            "diagnosis_categories": ";".join(categories),
        }
    )
    for course in courses:
        tables["courses"].append(
            {
                "course_id": ps.research_id("C", ("course", course.pk)),
                "patient_id": pid,
                "kind": course.kind,
                "indication": course.indication,
                "age_group": age_group(age_years(patient.date_of_birth, course.start_on)),
                "start_date": ps.shift(key, course.start_on),
                "status": course.status,
                "pattern": course.pattern,
                "infusions_planned": course.infusions_planned,
                "dose_mg_per_kg": _float(course.dose_mg_per_kg),
                "duration_min": _float(course.duration_min),
                "weight_basis": course.weight_basis,
            }
        )
    sessions = (
        InfusionSession.objects.filter(patient=patient, plan__isnull=False)  # dose computed
        .select_related("appointment")
        .order_by("appointment__starts_at", "pk")
    )
    for session in sessions:
        _session_rows(clinic, patient, session, ps, tables)
    _questionnaire_rows(clinic, patient, ps, tables)
    _outcome_rows(patient, courses, ps, tables)
    _safety_rows(clinic, patient, ps, tables)


def _session_rows(
    clinic: Clinic,
    patient: Patient,
    session: InfusionSession,
    ps: Pseudonyms,
    tables: dict[str, list[Row]],
) -> None:
    key = patient.pk
    pid = ps.research_id("P", ("patient", key))
    iid = ps.research_id("I", ("infusion", session.pk))
    appointment = session.appointment
    events = session.events.all()
    reasons = events.exclude(reason="").order_by("at", "pk").values_list("reason", flat=True)
    dissociation = InstrumentResponse.objects.filter(
        infusion_session_id=session.pk, instrument=Instrument.CADSS
    ).aggregate(top=Max("total"))["top"]
    started = session.started_at
    tables["infusions"].append(
        {
            "infusion_id": iid,
            "course_id": ps.research_id("C", ("course", appointment.course_id)),
            "patient_id": pid,
            "sequence": appointment.sequence,
            "date": ps.shift(key, _day(clinic, started or appointment.starts_at)),
            "status": session.status,
            "weight_kg": _float(session.weight_kg),
            "weight_basis": session.weight_basis,
            "dose_mg_per_kg": _float(session.dose_mg_per_kg),
            "dose_mg": session.dose_mg,
            "delivered_dose_mg": session.delivered_dose_mg,
            "duration_min": _float(session.duration_min),
            "pauses": events.filter(kind=PumpEventKind.PAUSE).count(),
            "stopped_early": events.filter(kind=PumpEventKind.STOP).exists(),
            "stop_reason": reasons.last() or "",
            "side_effects": session.side_effects.count(),
            "vital_sign_events": session.adverse_events.count(),
            "dissociation_score": _float(dissociation),
        }
    )
    for effect in session.side_effects.order_by("onset_at", "pk"):
        tables["adverse_events"].append(
            {
                "infusion_id": iid,
                "patient_id": pid,
                "category": "side_effect",
                "kind": effect.kind,
                "severity": effect.severity,
                "minutes_from_start": _minutes(started, effect.onset_at),
            }
        )
    for event in session.adverse_events.order_by("at", "pk"):
        tables["adverse_events"].append(
            {
                "infusion_id": iid,
                "patient_id": pid,
                "category": "vital_signs",
                "kind": event.level,
                "severity": "",
                "minutes_from_start": _minutes(started, event.at),
            }
        )
    prediction = _pk_row(clinic, patient, session, iid, pid)
    if prediction is not None:
        tables["pk_predictions"].append(prediction)


def _pk_row(
    clinic: Clinic, patient: Patient, session: InfusionSession, iid: str, pid: str
) -> Row | None:
    """The predicted Cmax and AUC of what the pump record of a finished infusion says was
    given (ketaflow.pk's default model, a typical patient of this weight and age); None without
    a pump record or weight."""
    if session.ended_at is None or session.weight_kg is None or session.started_at is None:
        return None  # not finished: what will be given is not known yet
    regimen = delivered_regimen(session, session.ended_at)
    if regimen is None:
        return None
    model = get_model(DEFAULT_MODEL)
    age = age_years(patient.date_of_birth, clinic_day(clinic, session.started_at))
    covariates = Covariates(weight_kg=float(session.weight_kg), age_yr=float(age))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", OutOfPopulationWarning)
        result = simulate(
            model,
            regimen,
            covariates,
            time_grid(until_min=regimen.end_min + PK_AFTER_END_MIN, step_min=1),
        )
    summary = result.summary()
    return {
        "infusion_id": iid,
        "patient_id": pid,
        "model": model.key,
        "model_name": model.short_name,
        "cmax_ng_per_ml": summary.cmax_ng_per_ml,
        "tmax_min": summary.tmax_min,
        "auc_ng_min_per_ml": summary.auc_ng_min_per_ml,
        "outside_population": any(issubclass(w.category, OutOfPopulationWarning) for w in caught),
    }


def _band(response: InstrumentResponse) -> str:
    """The questionnaire's band in the scoring result: PHQ-9/GAD-7 severity, PCL-5 probable PTSD
    or below the cut-point, the C-SSRS risk level; empty for the others."""
    result = response.result if isinstance(response.result, dict) else {}
    if response.instrument == Instrument.CSSRS:
        return response.risk_level
    if response.instrument == Instrument.PCL5:
        return "probable_ptsd" if result.get("probable_ptsd") else "below_cutpoint"
    severity = result.get("severity")
    return str(severity) if severity else ""


def _questionnaire_rows(
    clinic: Clinic, patient: Patient, ps: Pseudonyms, tables: dict[str, list[Row]]
) -> None:
    pid = ps.research_id("P", ("patient", patient.pk))
    for response in InstrumentResponse.objects.filter(patient=patient).order_by("taken_at", "pk"):
        cssrs = response.instrument == Instrument.CSSRS
        tables["questionnaires"].append(
            {
                "patient_id": pid,
                "instrument": response.instrument,
                "date": ps.shift(patient.pk, _day(clinic, response.taken_at)),
                "total": None if cssrs else float(response.total),
                "severity_band": _band(response),
                "source": response.source,
            }
        )


def _outcome_rows(
    patient: Patient, courses: list[Course], ps: Pseudonyms, tables: dict[str, list[Row]]
) -> None:
    pid = ps.research_id("P", ("patient", patient.pk))
    by_code = {m.code: m for m in trajectory(patient).measures}
    boosters = sum(1 for c in courses if c.kind == Course.Kind.BOOSTER)
    recommendations = BoosterRecommendation.objects.filter(patient=patient).count()
    for course in courses:
        if course.kind != Course.Kind.INDUCTION:
            continue
        outcome = course_outcome(course)
        measure = by_code.get(outcome.measure.value)
        assessment = measure.assessment if measure is not None else None
        tables["outcomes"].append(
            {
                "course_id": ps.research_id("C", ("course", course.pk)),
                "patient_id": pid,
                "measure": outcome.measure.value,
                "baseline_date": ps.shift(
                    patient.pk, outcome.baseline.on if outcome.baseline else None
                ),
                "baseline_score": _float(outcome.baseline.score if outcome.baseline else None),
                "endpoint_date": ps.shift(
                    patient.pk, outcome.endpoint.on if outcome.endpoint else None
                ),
                "endpoint_score": _float(outcome.endpoint.score if outcome.endpoint else None),
                "response": outcome.responded,
                "remission": outcome.remitted,
                "status": measure.status.value if measure is not None else "",
                "loss_of_response_date": ps.shift(
                    patient.pk, assessment.lost_on if assessment is not None else None
                ),
                "weeks_in_response": measure.weeks_in_response if measure is not None else None,
                "booster_courses": boosters,
                "booster_recommendations": recommendations,
            }
        )


def _safety_rows(
    clinic: Clinic, patient: Patient, ps: Pseudonyms, tables: dict[str, list[Row]]
) -> None:
    pid = ps.research_id("P", ("patient", patient.pk))
    for task in UrgentTask.objects.filter(patient=patient).order_by("created_at", "pk"):
        session_id = task.infusion_session_id
        tables["safety_events"].append(
            {
                "patient_id": pid,
                "kind": task.kind,
                "date": ps.shift(patient.pk, _day(clinic, task.created_at)),
                "acknowledged": task.acknowledged_at is not None,
                "action": task.action_taken,
                "infusion_id": ps.research_id("I", ("infusion", session_id))
                if session_id is not None
                else "",
            }
        )
    emergencies = (
        AdverseEvent.objects.filter(session__patient=patient, level=AlertLevel.EMERGENCY)
        .order_by("at", "pk")
        .values_list("session_id", "at")
    )
    for session_id, at in emergencies:
        tables["safety_events"].append(
            {
                "patient_id": pid,
                "kind": "vital_sign_emergency",
                "date": ps.shift(patient.pk, _day(clinic, at)),
                "acknowledged": None,
                "action": "",
                "infusion_id": ps.research_id("I", ("infusion", session_id)),
            }
        )
