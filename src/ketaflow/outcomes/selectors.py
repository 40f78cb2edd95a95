"""A patient's trajectory: per measure, the scores over time against baseline and the current
status from the outcome rules (``ketaflow.clinical.assess_outcome``), with the infusion days.

Reads only (no audit): the views and services that show a trajectory audit what they show.

Definitions used here (selection of data, not clinical cut-points):

- **Baseline**: the last score on or before the first infusion day (the pre-infusion screening
  of the first infusion counts); without any infusion day, the first score.
- **Status**: ``loss of response`` if the loss rule is met; else ``remission`` if the latest
  follow-up score is at or below the remission cut-point; else ``responder`` if the response
  criterion was met at some follow-up and the loss rule has not been met since; else ``not yet
  responding``. Every cut-point is in ``ketaflow.clinical.outcomes`` with its source.
- **Time to response**: days from the baseline to the first score meeting the response criterion.
- **Weeks in response**: from the later of the response date and the last infusion of the
  induction to the date the loss rule was met (or the latest score if it was not), in weeks.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any, Final

from django.utils import timezone

from ketaflow.accounts.models import User
from ketaflow.accounts.roles import Perm
from ketaflow.assessments.models import InstrumentResponse
from ketaflow.clinical import (
    Measure,
    OutcomeAssessment,
    OutcomeSettings,
    ScorePoint,
    assess_outcome,
)
from ketaflow.clinical.instruments import FULL_SCALE
from ketaflow.clinical.outcomes import DEFAULT_OUTCOME_SETTINGS
from ketaflow.infusions.models import InfusionSession
from ketaflow.outcomes.models import BoosterRecommendation
from ketaflow.patients.access import patients_for_user
from ketaflow.patients.models import Patient
from ketaflow.prepared import Prepared, first_row
from ketaflow.treatment.models import Appointment, Course
from ketaflow.treatment.services import clinic_today, clinic_zone

Code = InstrumentResponse.InstrumentCode

# Always shown (the patient-reported measures), then the clinician-rated ones if scored.
ALWAYS: Final = (Code.PCL5, Code.PHQ9, Code.GAD7)
WHEN_PRESENT: Final = (Code.CAPS5, Code.MADRS)
# The measures that have outcome rules in ketaflow.clinical (GAD-7 has none there).
RULED: Final[dict[str, Measure]] = {m.value: m for m in Measure}
# Each instrument's full scale, from ketaflow.clinical.
MAX_SCORES: Final[dict[str, int]] = {i.value: top for i, top in FULL_SCALE.items()}
# Appointments whose day is an infusion day: those that hold a chair (booked to completed).
INFUSION_STATUSES: Final = (
    Appointment.Status.BOOKED,
    Appointment.Status.ARRIVED,
    Appointment.Status.IN_PROGRESS,
    Appointment.Status.COMPLETED,
)


class Status(enum.StrEnum):
    NO_SCORES = "no_scores"
    NO_RULES = "no_rules"
    NOT_YET_RESPONDING = "not_yet_responding"
    RESPONDER = "responder"
    REMISSION = "remission"
    LOSS_OF_RESPONSE = "loss_of_response"

    @property
    def label(self) -> str:
        return STATUS_LABELS[self]


STATUS_LABELS: Final[dict[Status, str]] = {
    Status.NO_SCORES: "No scores yet",
    Status.NO_RULES: "No outcome rule",
    Status.NOT_YET_RESPONDING: "Not yet responding",
    Status.RESPONDER: "Responder",
    Status.REMISSION: "Remission",
    Status.LOSS_OF_RESPONSE: "Loss of response",
}


@dataclass(frozen=True)
class Point:
    on: dt.date
    score: int
    response_id: int


@dataclass(frozen=True)
class MeasureTrajectory:
    code: str  # the instrument code, e.g. "pcl5"
    label: str  # e.g. "PCL-5"
    max_score: int
    points: tuple[Point, ...]
    baseline: Point | None
    status: Status
    explanation: str
    assessment: OutcomeAssessment | None
    response_at_or_below: float | None  # the score that meets the response criterion
    remission_at_or_below: int | None
    time_to_response_days: int | None
    weeks_in_response: float | None
    source: str

    @property
    def latest(self) -> Point | None:
        return self.points[-1] if self.points else None

    @property
    def has_rules(self) -> bool:
        return self.code in RULED


@dataclass(frozen=True)
class Trajectory:
    patient_id: int
    patient_name: str
    measures: tuple[MeasureTrajectory, ...]
    infusion_days: tuple[dt.date, ...]
    induction_end: dt.date | None  # the last infusion day of the latest induction course
    today: dt.date

    def measure(self, code: str) -> MeasureTrajectory | None:
        return next((m for m in self.measures if m.code == code), None)

    @property
    def losses(self) -> tuple[MeasureTrajectory, ...]:
        return tuple(m for m in self.measures if m.status is Status.LOSS_OF_RESPONSE)


# A patient's trajectory's reads (the chart, the trajectory page, the portal's scores), compiled
# once per process (ketaflow.prepared, issue 16).
_STARTED = Prepared(
    lambda patient_id: InfusionSession.objects.filter(
        patient_id=patient_id, started_at__isnull=False
    ).values_list("appointment_id", "started_at")
)
_BOOKED = Prepared(
    lambda patient_id: Appointment.objects.filter(
        patient_id=patient_id, status__in=INFUSION_STATUSES
    ).values_list("pk", "starts_at")
)
_LATEST_INDUCTION = Prepared(
    lambda patient_id: first_row(
        Course.objects.filter(patient_id=patient_id, kind=Course.Kind.INDUCTION)
        .exclude(status=Course.Status.CANCELLED)
        .order_by("-start_on")
    )
)
_SCORES: dict[tuple[str, ...], Prepared[tuple[str, int, dt.datetime, Any]]] = {}


def _scores_read(codes: tuple[str, ...]) -> Prepared[tuple[str, int, dt.datetime, Any]]:
    """A patient's scores of ``codes`` (one read per set of codes, the codes in its SQL)."""
    if codes not in _SCORES:
        _SCORES[codes] = Prepared(
            lambda patient_id: (
                InstrumentResponse.objects.filter(patient_id=patient_id, instrument__in=codes)
                .order_by("taken_at", "pk")
                .values_list("instrument", "pk", "taken_at", "total")
            )
        )
    return _SCORES[codes]


def infusion_days(patient: Patient) -> tuple[dt.date, ...]:
    """The days of the patient's booked-to-completed infusion appointments (clinic time), the day
    the infusion started where a session records it."""
    zone = clinic_zone(patient.clinic)
    started = dict(_STARTED.all(patient_id=patient.pk))
    days: set[dt.date] = set()
    for pk, starts_at in _BOOKED.all(patient_id=patient.pk):
        moment = started.get(pk) or starts_at
        days.add(timezone.localtime(moment, zone).date())
    return tuple(sorted(days))


def induction_end(patient: Patient) -> dt.date | None:
    """The last planned infusion day of the patient's latest induction course (not cancelled)."""
    course = _LATEST_INDUCTION.first(patient_id=patient.pk)
    if course is None or not course.planned_dates:
        return None
    return max(dt.date.fromisoformat(d) for d in course.planned_dates)


def _points(patient: Patient, codes: tuple[str, ...]) -> dict[str, tuple[Point, ...]]:
    """The patient's scores of each of ``codes`` in time order, in one query."""
    zone = clinic_zone(patient.clinic)
    rows = _scores_read(codes).all(patient_id=patient.pk)
    points: dict[str, list[Point]] = {code: [] for code in codes}
    for code, pk, at, total in rows:
        points[code].append(Point(timezone.localtime(at, zone).date(), int(total), pk))
    return {code: tuple(found) for code, found in points.items()}


def _baseline_index(points: tuple[Point, ...], first_infusion: dt.date | None) -> int:
    if first_infusion is None:
        return 0
    before = [i for i, p in enumerate(points) if p.on <= first_infusion]
    return before[-1] if before else 0


def measure_trajectory(
    code: str,
    points: tuple[Point, ...],
    *,
    first_infusion: dt.date | None,
    induction_last: dt.date | None,
    settings: OutcomeSettings = DEFAULT_OUTCOME_SETTINGS,
) -> MeasureTrajectory:
    """One measure's trajectory from its chronological scores (pure: no database)."""
    label = Code(code).label
    max_score = MAX_SCORES[code]
    if not points:
        return MeasureTrajectory(
            code,
            label,
            max_score,
            points,
            None,
            Status.NO_SCORES,
            f"No {label} scores recorded yet.",
            None,
            None,
            None,
            None,
            None,
            "",
        )
    start = _baseline_index(points, first_infusion)
    baseline = points[start]
    measure = RULED.get(code)
    if measure is None:
        return MeasureTrajectory(
            code,
            label,
            max_score,
            points,
            baseline,
            Status.NO_RULES,
            f"No response or remission rule is defined for {label}; the scores "
            f"are shown against the baseline of {baseline.score} only.",
            None,
            None,
            None,
            None,
            None,
            "",
        )
    rules = settings.rules[measure]
    series = [ScorePoint(p.on, p.score) for p in points[start:]]
    result = assess_outcome(measure, series, settings)
    followed = len(series) > 1
    if result.loss_of_response.met:
        status, why = Status.LOSS_OF_RESPONSE, result.loss_of_response.explanation
    elif followed and result.remission.met:
        status = Status.REMISSION
        why = f"{result.remission.explanation} {result.response.explanation}"
    elif result.responded_on is not None:
        status = Status.RESPONDER
        why = f"{result.response.explanation} {result.loss_of_response.explanation}"
    else:
        status = Status.NOT_YET_RESPONDING
        why = (
            result.response.explanation
            if followed
            else f"Only the baseline score ({baseline.score} on {baseline.on}) so far."
        )
    to_response = (
        (result.responded_on - baseline.on).days if result.responded_on is not None else None
    )
    weeks: float | None = None
    if result.responded_on is not None:
        since = max(result.responded_on, induction_last or result.responded_on)
        until = result.lost_on or result.latest.on
        weeks = round(max((until - since).days, 0) / 7, 1)
    response_score = rules.response_at_or_below(baseline.score)
    return MeasureTrajectory(
        code=code,
        label=label,
        max_score=max_score,
        points=points,
        baseline=baseline,
        status=status,
        explanation=why,
        assessment=result,
        response_at_or_below=response_score,
        remission_at_or_below=rules.remission_at_or_below,
        time_to_response_days=to_response,
        weeks_in_response=weeks,
        source=rules.sources,
    )


def trajectory(
    patient: Patient, *, settings: OutcomeSettings = DEFAULT_OUTCOME_SETTINGS
) -> Trajectory:
    """The patient's trajectory per measure: PCL-5, PHQ-9 and GAD-7 always, CAPS-5 and MADRS
    when scored. The caller has checked access and audits what it shows."""
    days = infusion_days(patient)
    last = induction_end(patient)
    first = days[0] if days else None
    measures: list[MeasureTrajectory] = []
    scores = _points(patient, (*ALWAYS, *WHEN_PRESENT))
    for code, points in scores.items():
        if code in WHEN_PRESENT and not points:
            continue
        measures.append(
            measure_trajectory(
                code, points, first_infusion=first, induction_last=last, settings=settings
            )
        )
    return Trajectory(
        patient_id=patient.pk,
        patient_name=patient.display_name,
        measures=tuple(measures),
        infusion_days=days,
        induction_end=last,
        today=clinic_today(patient.clinic),
    )


# ---- pages ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrajectoryPage:
    """The trajectory page: the trajectory and, for staff, the patient's booster recommendations
    (newest first as the model orders them) with the open one if any."""

    traj: Trajectory
    recommendations: tuple[BoosterRecommendation, ...]
    open_rec: BoosterRecommendation | None


def _recommendations(patient: Patient) -> tuple[BoosterRecommendation, ...]:
    return tuple(_RECOMMENDATIONS.all(patient_id=patient.pk))


_RECOMMENDATIONS = Prepared(
    lambda patient_id: BoosterRecommendation.objects.filter(patient_id=patient_id).select_related(
        "decided_by", "course"
    )
)
_OPEN_RECOMMENDATION = Prepared(
    lambda patient_id: first_row(
        BoosterRecommendation.objects.filter(
            patient_id=patient_id, status=BoosterRecommendation.Status.OPEN
        )
    )
)


def _open(recs: tuple[BoosterRecommendation, ...]) -> BoosterRecommendation | None:
    return next((r for r in recs if r.status == BoosterRecommendation.Status.OPEN), None)


def trajectory_page(patient: Patient, *, staff: bool) -> TrajectoryPage:
    """The trajectory page of ``patient`` (access checked by the caller); recommendations only
    for ``staff`` (a patient sees their scores, not the clinic's booster work)."""
    recs = _recommendations(patient) if staff else ()
    return TrajectoryPage(traj=trajectory(patient), recommendations=recs, open_rec=_open(recs))


@dataclass(frozen=True)
class ChartSection:
    """The outcomes section of the patient chart: status per measure and any open booster."""

    patient: Patient
    traj: Trajectory
    staff: bool
    open_rec: BoosterRecommendation | None
    may_export: bool


def chart_section(patient: Patient, user: User) -> ChartSection:
    """The chart's outcomes section of ``patient`` as ``user`` sees it (access checked and the
    view audited by the caller)."""
    staff = user.role_enum.is_staff_role
    open_rec = _OPEN_RECOMMENDATION.first(patient_id=patient.pk) if staff else None
    return ChartSection(
        patient=patient,
        traj=trajectory(patient),
        staff=staff,
        open_rec=open_rec,
        may_export=user.may(Perm.EXPORT_CHART),
    )


def open_recommendations(user: User) -> tuple[BoosterRecommendation, ...]:
    """The open booster recommendations of the patients ``user`` may see."""
    return tuple(
        BoosterRecommendation.objects.filter(
            status=BoosterRecommendation.Status.OPEN, patient__in=patients_for_user(user)
        ).select_related("patient")
    )


def patients_behind(user: User, ids: Collection[int]) -> tuple[Patient, ...]:
    """The patients with ``ids`` among those ``user`` may see, by name (a dashboard figure's)."""
    return tuple(patients_for_user(user).filter(pk__in=ids).order_by("family_name", "given_name"))


__all__ = [
    "ChartSection",
    "MeasureTrajectory",
    "Point",
    "Status",
    "Trajectory",
    "TrajectoryPage",
    "chart_section",
    "induction_end",
    "infusion_days",
    "measure_trajectory",
    "open_recommendations",
    "patients_behind",
    "trajectory",
    "trajectory_page",
]
