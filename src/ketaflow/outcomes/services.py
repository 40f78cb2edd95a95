"""Booster recommendations and the audited reads of outcomes.

``recommendations_refresh`` is the one place a loss of response (``ketaflow.clinical.
assess_outcome``) becomes a booster recommendation whose schedule comes from ``ketaflow.clinical.
plan_boosters`` / ``step_back_on_loss``. It is idempotent: at most one open recommendation per
patient, and a loss already recommended on (same measure, same day the rule was met) is not
recommended again, whatever was decided. It runs by itself after every new
``InstrumentResponse`` is committed (:func:`on_response_saved`, connected in ``OutcomesConfig``);
:func:`response_recorded` does the same at once for a caller that wants the result, and the
outcome pages call ``recommendations_refresh`` when they open.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from ketaflow.accounts.models import Clinic
from ketaflow.accounts.roles import Perm
from ketaflow.assessments.models import InstrumentResponse
from ketaflow.audit.context import Actor
from ketaflow.audit.services import Action, audit_record
from ketaflow.candidacy.selectors import signed_candidacy_for
from ketaflow.clinical import (
    BoosterPlan,
    ClinicalInputError,
    Indication,
    Measure,
    plan_boosters,
    step_back_on_loss,
)
from ketaflow.clinicsettings.selectors import clinical_settings_for
from ketaflow.outcomes.models import BoosterRecommendation
from ketaflow.outcomes.selectors import RULED, Trajectory, trajectory
from ketaflow.patients.models import Patient
from ketaflow.treatment import services as treatment
from ketaflow.treatment.models import Course

OBJECT = "booster_recommendation"


def booster_schedule(
    patient: Patient, lost_on: dt.date, induction_last: dt.date | None
) -> tuple[list[dict[str, str]], str]:
    """The proposed visits after a loss of response on ``lost_on``: the default taper planned
    from the end of the induction, stepped back one phase at the loss (``step_back_on_loss``);
    without an induction, the taper restarted from the loss day (``plan_boosters``)."""
    weekdays = treatment.open_weekdays(patient.clinic)
    if not weekdays:
        return [], "The clinic has no opening hours, so no booster days can be proposed."
    try:
        plan: BoosterPlan
        if induction_last is not None and induction_last <= lost_on:
            plan = step_back_on_loss(plan_boosters(induction_last, weekdays), lost_on, weekdays)
        else:
            plan = plan_boosters(lost_on, weekdays)
    except ClinicalInputError as exc:
        return [], f"No booster schedule: {exc}"
    visits = [{"on": v.on.isoformat(), "phase": v.phase} for v in plan.visits]
    return visits, f"{plan.explanation} ({plan.source})"


@transaction.atomic
def recommendations_refresh(
    *, actor: Actor, patient: Patient, traj: Trajectory | None = None
) -> BoosterRecommendation | None:
    """The patient's open booster recommendation, created now if the outcome rules find a loss
    of response not yet recommended on; ``None`` if there is none."""
    open_rec = BoosterRecommendation.objects.filter(
        patient=patient, status=BoosterRecommendation.Status.OPEN
    ).first()
    if open_rec is not None:
        return open_rec
    traj = traj if traj is not None else trajectory(patient)
    for m in traj.losses:
        assessment = m.assessment
        if assessment is None or assessment.lost_on is None:
            continue
        lost_on = assessment.lost_on
        if BoosterRecommendation.objects.filter(
            patient=patient, measure=m.code, lost_on=lost_on
        ).exists():
            continue
        visits, explanation = booster_schedule(patient, lost_on, traj.induction_end)
        rec = BoosterRecommendation(
            patient=patient,
            measure=m.code,
            lost_on=lost_on,
            reason=f"{m.label}: {m.explanation}",
            schedule=visits,
            schedule_explanation=explanation,
            created_by=actor.user,
        )
        rec.full_clean(validate_constraints=False)
        try:
            with transaction.atomic():
                rec.save()
        except IntegrityError:  # another request created the open one just now
            return BoosterRecommendation.objects.filter(
                patient=patient, status=BoosterRecommendation.Status.OPEN
            ).first()
        audit_record(
            actor=actor,
            action=Action.CREATE,
            object_type=OBJECT,
            object_id=rec.pk,
            patient_id=patient.pk,
            summary=f"booster recommended: loss of response on {m.label} from {lost_on}",
            detail={"measure": m.code, "lost_on": lost_on.isoformat(), "schedule": visits},
        )
        return rec
    return None


def response_recorded(
    *, actor: Actor, response: InstrumentResponse
) -> BoosterRecommendation | None:
    """The hook to call after every new ``InstrumentResponse``: refreshes the patient's booster
    recommendation when the instrument has outcome rules (PCL-5, CAPS-5, PHQ-9, MADRS)."""
    if response.instrument not in RULED:
        return None
    return recommendations_refresh(actor=actor, patient=response.patient)


def refresh_after_commit(response: InstrumentResponse) -> None:
    """Once the transaction that stored ``response`` commits, refresh the patient's booster
    recommendation as the system actor "outcomes" (called by ``portal.answers.
    response_record``). After the commit, so that an error in the outcome rules can never undo
    the answer or its urgent safety task; ``robust``: such an error is logged, not raised."""
    if response.instrument not in RULED:
        return
    patient_id = response.patient_id
    transaction.on_commit(lambda: _refresh_after_commit(patient_id), robust=True)


def _refresh_after_commit(patient_id: int) -> None:
    patient = Patient.objects.select_related("clinic").filter(pk=patient_id).first()
    if patient is not None:
        recommendations_refresh(actor=Actor.system("outcomes"), patient=patient)


def _indication_for(rec: BoosterRecommendation, last: Course | None) -> Indication:
    if last is not None:
        return Indication(last.indication)
    return Measure(rec.measure).domain


def _weight_kg(patient: Patient, last: Course | None) -> Decimal:
    if last is not None and last.weight_kg is not None:
        return last.weight_kg
    signed = signed_candidacy_for(patient)
    weight = signed.intake.get("weight_kg") if signed is not None else None
    if weight is None:
        raise ValidationError(
            {"__all__": "No weight recorded for the patient: plan the booster course by hand."}
        )
    return Decimal(str(weight))


def first_proposed_on_or_after(rec: BoosterRecommendation, day: dt.date) -> dt.date | None:
    dates = sorted(dt.date.fromisoformat(v["on"]) for v in rec.schedule)
    return next((d for d in dates if d >= day), None)


BOOSTER_DEFAULT_TIME = dt.time(9, 0)


def default_booster_visit(rec: BoosterRecommendation, clinic: Clinic) -> tuple[dt.date, dt.time]:
    """The visit the accept form offers: the first proposed day that is still ahead in the
    clinic's time (today only while 09:00 there has not passed), at 09:00."""
    now = timezone.localtime(timezone.now(), treatment.clinic_zone(clinic))
    earliest = now.date() if now.time() < BOOSTER_DEFAULT_TIME else now.date() + dt.timedelta(1)
    proposed = first_proposed_on_or_after(rec, earliest)
    return proposed or earliest, BOOSTER_DEFAULT_TIME


@transaction.atomic
def recommendation_accept(
    *, actor: Actor, rec: BoosterRecommendation, on: dt.date, at: dt.time
) -> Course:
    """Accept: plan a single-infusion booster course on ``on`` (the prescriber's choice, by
    default the first proposed visit from today) through ``treatment.services`` and book it at
    ``at`` in the first free chair. Refused without a signed candidacy decision, by the course
    rules (role, credentials, dose limits) or when the slot cannot be booked; nothing is kept
    then."""
    rec = BoosterRecommendation.objects.select_for_update().get(pk=rec.pk)
    user = actor.user
    if user is None or not user.may(Perm.PLAN_COURSE):
        raise PermissionDenied("Only a prescriber may accept a booster recommendation.")
    if rec.status != BoosterRecommendation.Status.OPEN:
        raise ValidationError({"__all__": f"This recommendation is {rec.get_status_display()}."})
    patient = rec.patient
    candidacy = signed_candidacy_for(patient)
    if candidacy is None:
        raise ValidationError(
            {
                "__all__": "No signed candidacy decision: a prescriber must sign the patient's "
                "eligibility decision before a booster course can be booked."
            }
        )
    last = (
        Course.objects.filter(patient=patient)
        .exclude(status=Course.Status.CANCELLED)
        .order_by("-start_on", "-pk")
        .first()
    )
    indication = _indication_for(rec, last)
    entry = clinical_settings_for(patient.clinic).drug_library[indication]
    same = last is not None and last.indication == indication.value
    course = treatment.course_plan(
        actor=actor,
        patient=patient,
        candidacy=candidacy,
        kind=Course.Kind.BOOSTER,
        indication=indication.value,
        drug_library_key=f"ketamine-{indication.value}",
        dose_mg_per_kg=last.dose_mg_per_kg
        if same and last is not None
        else Decimal(str(entry.default_dose_mg_per_kg)),
        duration_min=last.duration_min
        if same and last is not None
        else Decimal(str(entry.default_duration_min)),
        weight_basis=last.weight_basis if same and last is not None else Course.WeightBasis.ACTUAL,
        pattern=Course.Pattern.SINGLE,
        infusions_planned=1,
        start_on=on,
        weight_kg=_weight_kg(patient, last),
        height_cm=last.height_cm if last is not None else None,
        notes=f"Booster for loss of response on {rec.measure_label} from {rec.lost_on}.",
    )
    day = dt.date.fromisoformat(course.planned_dates[0])
    slots = treatment.slots_from_requests(
        course=course, requests=[treatment.SlotRequest(sequence=1, on=day, at=at)]
    )
    treatment.course_book(actor=actor, course=course, slots=slots)
    rec.status = BoosterRecommendation.Status.ACCEPTED
    rec.decided_by = user
    rec.decided_at = timezone.now()
    rec.course = course
    rec.full_clean()
    rec.save()
    audit_record(
        actor=actor,
        action=Action.UPDATE,
        object_type=OBJECT,
        object_id=rec.pk,
        patient_id=patient.pk,
        summary=f"booster recommendation accepted: booster booked on {day} at {at:%H:%M}",
        detail={"course_id": course.pk},
    )
    return course


@transaction.atomic
def recommendation_decline(
    *, actor: Actor, rec: BoosterRecommendation, reason: str
) -> BoosterRecommendation:
    """Decline with a written reason (required)."""
    rec = BoosterRecommendation.objects.select_for_update().get(pk=rec.pk)
    user = actor.user
    if user is None or not user.may(Perm.PLAN_COURSE):
        raise PermissionDenied("Only a prescriber may decline a booster recommendation.")
    if rec.status != BoosterRecommendation.Status.OPEN:
        raise ValidationError({"__all__": f"This recommendation is {rec.get_status_display()}."})
    text = reason.strip()
    if not text:
        raise ValidationError({"reason": "Reason: say why no booster is given."})
    rec.status = BoosterRecommendation.Status.DECLINED
    rec.decided_by = user
    rec.decided_at = timezone.now()
    rec.decline_reason = text[:500]
    rec.full_clean()
    rec.save()
    audit_record(
        actor=actor,
        action=Action.UPDATE,
        object_type=OBJECT,
        object_id=rec.pk,
        patient_id=rec.patient_id,
        summary=f"booster recommendation declined: {text[:200]}",
    )
    return rec


def trajectory_viewed(*, actor: Actor, patient: Patient, what: str) -> None:
    """Record that ``actor`` saw ``patient``'s trajectory (page, chart image or section)."""
    audit_record(
        actor=actor,
        action=Action.VIEW,
        object_type="trajectory",
        object_id=patient.pk,
        patient_id=patient.pk,
        summary=f"viewed outcome trajectory ({what})",
    )


def report_exported(*, actor: Actor, patient: Patient, pages: int) -> None:
    audit_record(
        actor=actor,
        action=Action.EXPORT,
        object_type="patient",
        object_id=patient.pk,
        patient_id=patient.pk,
        summary=f"exported the progress report as PDF ({pages} pages)",
    )


def recommendations_listed(*, actor: Actor, patient_ids: list[int]) -> None:
    audit_record(
        actor=actor,
        action=Action.VIEW,
        object_type="booster_recommendation_list",
        summary=f"listed open booster recommendations: {len(patient_ids)} shown",
        detail={"patient_ids": patient_ids},
    )


def dashboard_viewed(*, actor: Actor, what: str, detail: dict[str, Any]) -> None:
    audit_record(
        actor=actor,
        action=Action.VIEW,
        object_type="outcome_dashboard",
        summary=f"viewed the outcome dashboard ({what})",
        detail=detail,
    )
