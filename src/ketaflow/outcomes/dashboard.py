"""The clinic outcome dashboard: its figures, computed from the clinic's induction courses, and
the patients behind each figure.

Definitions (selection of data; every outcome cut-point is in ``ketaflow.clinical.outcomes``):

- **Cohort**: induction courses (not cancelled) of the clinic's patients, filtered by the course's
  indication and by its start date (``start``-``end`` inclusive). Patients and courses are counted
  from it (courses: induction and booster courses of those patients started in the period).
- **Measure**: PCL-5 for a PTSD course, PHQ-9 for a depression course (the patient-reported
  measures the clinic collects for every patient).
- **Baseline**: the last score on or before the course's first infusion day.
- **End of induction**: the first score after the day of the course's last infusion, within
  :data:`END_OF_INDUCTION_WINDOW_DAYS` days. A course without such a score is "not evaluable"
  and is listed, not counted as a failure.
- **Response / remission at the end of induction**: ``assess_outcome`` of baseline and that score.
- **Time to loss of response** (Kaplan-Meier, ``ketaflow.clinical.survival``): from the day the
  response criterion was first met to the day the loss rule was met (event), or to the latest
  score (censored), on the patient's whole series of that measure; responders only.
- **Adverse events per infusion**: side effects recorded in the infusion sessions (started) of
  the cohort's courses, and their critical and emergency readings after the start (the adverse
  events the chair records, a reading later corrected excepted), per 100 started infusions, by
  type.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Final
from urllib.parse import urlencode

from django.conf import settings
from django.db.models import Q, QuerySet

from ketaflow.assessments.models import InstrumentResponse
from ketaflow.clinical import (
    Indication,
    KaplanMeier,
    Measure,
    Observation,
    ScorePoint,
    assess_outcome,
)
from ketaflow.clinical import kaplan_meier as km_estimate
from ketaflow.clinical.common import choices
from ketaflow.infusions.models import AdverseEvent, InfusionSession, SideEffect
from ketaflow.outcomes.selectors import (
    INFUSION_STATUSES,
    Point,
    Status,
    measure_trajectory,
)
from ketaflow.patients.models import Patient
from ketaflow.treatment.models import Appointment, Course
from ketaflow.treatment.services import clinic_zone
from ketaflow.web.reads import unread_but

# Feder 2021 (PTSD) and Murrough 2013 (TRD) assessed the end of a six-infusion induction 24 hours
# after the sixth infusion (clinical.md s. 1). A clinic's follow-up questionnaire may come a few
# days later, so the first score within 7 days of the last infusion counts; a later one measures
# durability, not the induction. Clinic setting OUTCOMES_END_OF_INDUCTION_WINDOW_DAYS (medical
# director to review).
END_OF_INDUCTION_WINDOW_DAYS: Final[int] = getattr(
    settings, "OUTCOMES_END_OF_INDUCTION_WINDOW_DAYS", 7
)
MEASURE_FOR: Final[dict[str, Measure]] = {"ptsd": Measure.PCL5, "depression": Measure.PHQ9}
INDICATIONS: Final = tuple(choices(Indication))


@dataclass(frozen=True)
class Filters:
    indication: str | None
    start: dt.date | None
    end: dt.date | None
    today: dt.date

    def query(self) -> str:
        pairs = {
            "indication": self.indication or "",
            "start": self.start.isoformat() if self.start else "",
            "end": self.end.isoformat() if self.end else "",
        }
        return urlencode({k: v for k, v in pairs.items() if v})

    def as_detail(self) -> dict[str, str]:
        return {
            "indication": self.indication or "all",
            "start": self.start.isoformat() if self.start else "",
            "end": self.end.isoformat() if self.end else "",
        }


@dataclass(frozen=True)
class CourseOutcome:
    course_id: int
    patient_id: int
    measure: Measure
    baseline: Point | None
    endpoint: Point | None
    responded: bool
    remitted: bool

    @property
    def evaluable(self) -> bool:
        return self.baseline is not None and self.endpoint is not None


@dataclass(frozen=True)
class AdverseRow:
    kind: str
    label: str
    events: int
    per_100: float
    patient_ids: frozenset[int]


@dataclass(frozen=True)
class Rate:
    numerator: int
    denominator: int

    @property
    def percent(self) -> float | None:
        return self.numerator / self.denominator * 100 if self.denominator else None


@dataclass(frozen=True)
class Dashboard:
    filters: Filters
    window_days: int
    patient_ids: frozenset[int]
    course_ids: frozenset[int]
    course_patient_ids: frozenset[int]
    outcomes: tuple[CourseOutcome, ...]
    survival: KaplanMeier
    survival_events: frozenset[int]
    survival_censored: frozenset[int]
    infusions: int
    infusion_patient_ids: frozenset[int]
    adverse_events: tuple[AdverseRow, ...]

    @property
    def evaluable(self) -> tuple[CourseOutcome, ...]:
        return tuple(o for o in self.outcomes if o.evaluable)

    @property
    def not_evaluable(self) -> tuple[CourseOutcome, ...]:
        return tuple(o for o in self.outcomes if not o.evaluable)

    @property
    def response(self) -> Rate:
        return Rate(sum(o.responded for o in self.evaluable), len(self.evaluable))

    @property
    def remission(self) -> Rate:
        return Rate(sum(o.remitted for o in self.evaluable), len(self.evaluable))

    def _figures(self) -> dict[str, tuple[str, frozenset[int]]]:
        figures: dict[str, tuple[str, frozenset[int]]] = {
            "patients": ("Patients with an induction course", self.patient_ids),
            "courses": ("Patients of the courses counted", self.course_patient_ids),
            "evaluable": (
                "Evaluable at the end of induction",
                frozenset(o.patient_id for o in self.evaluable),
            ),
            "not_evaluable": (
                "Not evaluable at the end of induction (no score in the window)",
                frozenset(o.patient_id for o in self.not_evaluable),
            ),
            "responders": (
                "Responders at the end of induction",
                frozenset(o.patient_id for o in self.evaluable if o.responded),
            ),
            "remitters": (
                "In remission at the end of induction",
                frozenset(o.patient_id for o in self.evaluable if o.remitted),
            ),
            "losses": ("Lost their response (Kaplan-Meier events)", self.survival_events),
            "censored": (
                "Still in response at their latest score (censored)",
                self.survival_censored,
            ),
            "infusions": ("Patients with started infusions", self.infusion_patient_ids),
        }
        for row in self.adverse_events:
            figures[f"ae_{row.kind}"] = (f"Adverse event: {row.label}", row.patient_ids)
        return figures

    def patients_behind(self, figure: str) -> frozenset[int] | None:
        found = self._figures().get(figure)
        return found[1] if found is not None else None

    def figure_label(self, figure: str) -> str:
        found = self._figures().get(figure)
        return found[0] if found is not None else figure


@dataclass(frozen=True)
class _CohortRows:
    """Everything the per-course figures read, fetched for the whole cohort in four queries
    (the dashboard used to ask three to six per course: 70 queries for Riverside's demo, more
    with every course). Keyed as the per-course queries were, so the figures are the same."""

    started: dict[int, dt.datetime | None]  # appointment -> its session's start
    by_patient: dict[int, list[tuple[int, dt.datetime]]]  # patient -> infusion appointments
    by_course: dict[int, list[tuple[int, dt.datetime]]]  # course -> infusion appointments
    points: dict[tuple[int, str], list[tuple[int, dt.datetime, Decimal]]]  # (patient, code) -> rows

    @classmethod
    def of(cls, courses: list[Course]) -> _CohortRows:
        patient_ids = {c.patient_id for c in courses}
        course_ids = {c.pk for c in courses}
        by_patient: dict[int, list[tuple[int, dt.datetime]]] = defaultdict(list)
        by_course: dict[int, list[tuple[int, dt.datetime]]] = defaultdict(list)
        for patient_id, course_id, pk, starts_at in Appointment.objects.filter(
            Q(patient_id__in=patient_ids) | Q(course_id__in=course_ids),
            status__in=INFUSION_STATUSES,
        ).values_list("patient_id", "course_id", "pk", "starts_at"):
            if patient_id in patient_ids:
                by_patient[patient_id].append((pk, starts_at))
            if course_id in course_ids:
                by_course[course_id].append((pk, starts_at))
        points: dict[tuple[int, str], list[tuple[int, dt.datetime, Decimal]]] = defaultdict(list)
        for patient_id, code, pk, at, total in (
            InstrumentResponse.objects.filter(
                patient_id__in=patient_ids, instrument__in=[m.value for m in MEASURE_FOR.values()]
            )
            .order_by("taken_at", "pk")
            .values_list("patient_id", "instrument", "pk", "taken_at", "total")
        ):
            points[(patient_id, code)].append((pk, at, total))
        started = dict(
            InfusionSession.objects.filter(
                Q(patient_id__in=patient_ids) | Q(appointment__course_id__in=course_ids),
                started_at__isnull=False,
            ).values_list("appointment_id", "started_at")
        )
        return cls(started, by_patient, by_course, points)

    def course_days(self, course: Course) -> list[dt.date]:
        zone = clinic_zone(course.patient.clinic)
        return sorted(
            {
                (self.started.get(pk) or at).astimezone(zone).date()
                for pk, at in self.by_course.get(course.pk, [])
            }
        )

    def infusion_days(self, patient: Patient) -> tuple[dt.date, ...]:
        """As ``selectors.infusion_days``: every infusion appointment of the patient."""
        zone = clinic_zone(patient.clinic)
        return tuple(
            sorted(
                {
                    (self.started.get(pk) or at).astimezone(zone).date()
                    for pk, at in self.by_patient.get(patient.pk, [])
                }
            )
        )

    def points_of(self, patient: Patient, measure: Measure) -> tuple[Point, ...]:
        zone = clinic_zone(patient.clinic)
        return tuple(
            Point(at.astimezone(zone).date(), int(total), pk)
            for pk, at, total in self.points.get((patient.pk, measure.value), [])
        )


def _course_days(course: Course) -> list[dt.date]:
    zone = clinic_zone(course.patient.clinic)
    started = dict(
        InfusionSession.objects.filter(
            appointment__course=course, started_at__isnull=False
        ).values_list("appointment_id", "started_at")
    )
    days = {
        (started.get(pk) or at).astimezone(zone).date()
        for pk, at in course.appointments.filter(status__in=INFUSION_STATUSES).values_list(
            "pk", "starts_at"
        )
    }
    return sorted(days)


def _points(patient: Patient, measure: Measure) -> tuple[Point, ...]:
    zone = clinic_zone(patient.clinic)
    rows = (
        InstrumentResponse.objects.filter(patient=patient, instrument=measure.value)
        .order_by("taken_at", "pk")
        .values_list("pk", "taken_at", "total")
    )
    return tuple(Point(at.astimezone(zone).date(), int(total), pk) for pk, at, total in rows)


def course_outcome(
    course: Course,
    window_days: int = END_OF_INDUCTION_WINDOW_DAYS,
    rows: _CohortRows | None = None,
) -> CourseOutcome:
    """The course's end-of-induction outcome; ``rows``: the cohort's rows read once (the
    dashboard), else this course's own queries."""
    measure = MEASURE_FOR.get(course.indication, Measure.PCL5)
    if rows is None:
        points = _points(course.patient, measure)
        days = _course_days(course)
    else:
        points = rows.points_of(course.patient, measure)
        days = rows.course_days(course)
    baseline = endpoint = None
    if days:
        before = [p for p in points if p.on <= days[0]]
        baseline = before[-1] if before else None
        last = days[-1]
        after = [p for p in points if last < p.on <= last + dt.timedelta(days=window_days)]
        endpoint = after[0] if after else None
    responded = remitted = False
    if baseline is not None and endpoint is not None:
        result = assess_outcome(
            measure,
            [ScorePoint(baseline.on, baseline.score), ScorePoint(endpoint.on, endpoint.score)],
        )
        responded = bool(result.response.met)
        remitted = bool(result.remission.met)
    return CourseOutcome(
        course.pk, course.patient_id, measure, baseline, endpoint, responded, remitted
    )


def _survival(
    courses: Iterable[Course], rows: _CohortRows
) -> tuple[KaplanMeier, frozenset[int], frozenset[int]]:
    """One observation per responding patient, on the measure of their latest induction."""
    latest: dict[int, Course] = {}
    for course in courses:
        if course.patient_id not in latest or course.start_on > latest[course.patient_id].start_on:
            latest[course.patient_id] = course
    observations: list[Observation] = []
    events: set[int] = set()
    censored: set[int] = set()
    for patient_id, course in sorted(latest.items()):
        measure = MEASURE_FOR.get(course.indication, Measure.PCL5)
        days = rows.infusion_days(course.patient)
        last = max((dt.date.fromisoformat(d) for d in course.planned_dates), default=None)
        m = measure_trajectory(
            measure.value,
            rows.points_of(course.patient, measure),
            first_infusion=days[0] if days else None,
            induction_last=last,
        )
        a = m.assessment
        if a is None or a.responded_on is None:
            continue
        if m.status is Status.LOSS_OF_RESPONSE and a.lost_on is not None:
            observations.append(Observation(float((a.lost_on - a.responded_on).days), True))
            events.add(patient_id)
        else:
            observations.append(Observation(float((a.latest.on - a.responded_on).days), False))
            censored.add(patient_id)
    return km_estimate(observations), frozenset(events), frozenset(censored)


READING_LABELS: Final = {
    "reading_critical": "Critical reading at the chair",
    "reading_emergency": "Emergency reading at the chair",
}


def _adverse(courses: list[Course]) -> tuple[int, frozenset[int], tuple[AdverseRow, ...]]:
    sessions = InfusionSession.objects.filter(
        appointment__course__in=courses, started_at__isnull=False
    )
    infusions = sessions.count()
    patient_ids = frozenset(sessions.values_list("patient_id", flat=True))
    counts: dict[str, int] = defaultdict(int)
    who: dict[str, set[int]] = defaultdict(set)
    for kind, patient_id in SideEffect.objects.filter(session__in=sessions).values_list(
        "kind", "session__patient_id"
    ):
        counts[kind] += 1
        who[kind].add(patient_id)
    for level, patient_id in AdverseEvent.objects.filter(
        session__in=sessions, reading__corrections__isnull=True
    ).values_list("level", "session__patient_id"):
        counts[f"reading_{level}"] += 1
        who[f"reading_{level}"].add(patient_id)
    labels = {**dict(SideEffect.Kind.choices), **READING_LABELS}
    rows = tuple(
        AdverseRow(
            kind=kind,
            label=str(labels.get(kind, kind)),
            events=n,
            per_100=n / infusions * 100 if infusions else 0.0,
            patient_ids=frozenset(who[kind]),
        )
        for kind, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    )
    return infusions, patient_ids, rows


def dashboard(patients: QuerySet[Patient], filters: Filters) -> Dashboard:
    """The figures for ``patients`` (the caller's ``patients_for_user``) under ``filters``."""
    courses_qs = Course.objects.filter(patient__in=patients).exclude(status=Course.Status.CANCELLED)
    if filters.indication:
        courses_qs = courses_qs.filter(indication=filters.indication)
    if filters.start:
        courses_qs = courses_qs.filter(start_on__gte=filters.start)
    if filters.end:
        courses_qs = courses_qs.filter(start_on__lte=filters.end)
    # Of each course's patient the figures need the clinic (its time zone) and no more.
    all_courses = list(
        courses_qs.select_related("patient", "patient__clinic")
        .defer(*unread_but("patient", Patient, ("id", "clinic")))
        .order_by("start_on")
    )
    inductions = [c for c in all_courses if c.kind == Course.Kind.INDUCTION]
    window = END_OF_INDUCTION_WINDOW_DAYS
    rows = _CohortRows.of(inductions)
    survival, events, censored = _survival(inductions, rows)
    infusions, infused, adverse = _adverse(all_courses)
    return Dashboard(
        filters=filters,
        window_days=window,
        patient_ids=frozenset(c.patient_id for c in inductions),
        course_ids=frozenset(c.pk for c in all_courses),
        course_patient_ids=frozenset(c.patient_id for c in all_courses),
        outcomes=tuple(course_outcome(c, window, rows) for c in inductions),
        survival=survival,
        survival_events=events,
        survival_censored=censored,
        infusions=infusions,
        infusion_patient_ids=infused,
        adverse_events=adverse,
    )
