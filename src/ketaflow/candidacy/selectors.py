"""Reads that other apps gate on (no writes, no audit: callers audit what they show)."""

from __future__ import annotations

from ketaflow.candidacy.models import CandidacyAssessment, Consent
from ketaflow.patients.models import Patient


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
    return (
        Consent.objects.filter(patient=patient, withdrawn_at__isnull=True, form__retired=False)
        .select_related("form")
        .order_by("-accepted_at")
        .first()
    )
