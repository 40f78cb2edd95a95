"""Reads that other apps gate on (no writes, no audit: callers audit what they show)."""

from __future__ import annotations

from dataclasses import dataclass

from ketaflow.accounts.clinictime import clinic_today
from ketaflow.accounts.models import User
from ketaflow.accounts.roles import Perm
from ketaflow.candidacy.models import CandidacyAssessment, Consent, ConsentForm
from ketaflow.patients.models import Patient
from ketaflow.prepared import Prepared, first_row


def signed_candidacy_for(patient: Patient) -> CandidacyAssessment | None:
    """The newest signed candidacy decision of ``patient`` that still stands, if any."""
    return (
        CandidacyAssessment.objects.filter(
            patient=patient,
            status=CandidacyAssessment.Status.SIGNED,
            decision__in=[
                CandidacyAssessment.Decision.ELIGIBLE,
                CandidacyAssessment.Decision.NEEDS_REVIEW,
            ],
        )
        .order_by("-signed_at")
        .first()
    )


def current_consent_for(patient: Patient) -> Consent | None:
    """The newest consent of ``patient`` that is not withdrawn and whose form is not retired."""
    return _CURRENT_CONSENT.first(patient_id=patient.pk)


# Reads of every chart and infusion page, compiled once per process (ketaflow.prepared).
_CURRENT_CONSENT = Prepared(
    lambda patient_id: first_row(
        Consent.objects.filter(
            patient_id=patient_id, withdrawn_at__isnull=True, form__retired=False
        )
        .select_related("form")
        .order_by("-accepted_at")
    )
)
_CHART_ASSESSMENTS = Prepared(
    lambda patient_id: CandidacyAssessment.objects.filter(patient_id=patient_id).select_related(
        "signed_by"
    )[:CHART_ASSESSMENTS]
)


def latest_assessment_for(patient: Patient) -> CandidacyAssessment | None:
    """The newest candidacy assessment of ``patient`` in any state (the intake prefills from
    its answers)."""
    return CandidacyAssessment.objects.filter(patient=patient).first()


@dataclass(frozen=True)
class ConsentPage:
    """The consent page of a patient: the form in effect, the consent that stands, every one."""

    consent_form: ConsentForm | None
    current: Consent | None
    history: tuple[Consent, ...]


def consent_page(patient: Patient) -> ConsentPage:
    return ConsentPage(
        consent_form=consent_form_current(patient),
        current=current_consent_for(patient),
        history=tuple(Consent.objects.filter(patient=patient).select_related("form", "witness")),
    )


def consent_form_current(patient: Patient) -> ConsentForm | None:
    """The clinic's newest consent form in effect today."""
    return (
        ConsentForm.objects.filter(
            clinic_id=patient.clinic_id,
            retired=False,
            effective_on__lte=clinic_today(patient.clinic),
        )
        .order_by("-effective_on")
        .first()
    )


@dataclass(frozen=True)
class ChartSection:
    """The candidacy and consent section of the patient chart (the chart view audits it)."""

    patient: Patient
    assessments: tuple[CandidacyAssessment, ...]
    consent: Consent | None
    may_assess: bool
    staff: bool


CHART_ASSESSMENTS = 5  # the newest few; the chart is a summary, not the history


def chart_section(patient: Patient, user: User) -> ChartSection:
    return ChartSection(
        patient=patient,
        assessments=tuple(_CHART_ASSESSMENTS.all(patient_id=patient.pk)),
        consent=current_consent_for(patient),
        may_assess=user.may(Perm.EDIT_CLINICAL),
        staff=user.role_enum.is_staff_role,
    )
