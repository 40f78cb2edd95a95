"""Builders of candidacy test data: an intake's answers and an assessment made through the
intake page."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.test import Client
from django.urls import reverse
from django.utils import timezone

from ketaflow.candidacy.models import CandidacyAssessment
from ketaflow.patients.models import Patient
from tests.web.conftest import World


def intake_post(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "sex": "female",
        "pregnant": "no",
        "breastfeeding": "no",
        "weight_kg": "68",
        "height_cm": "165",
        "systolic_bp_mmhg": "122",
        "diastolic_bp_mmhg": "78",
        "heart_rate_bpm": "72",
        "cssrs_risk": "low",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def assess(c: Client, world: World, **overrides: Any) -> CandidacyAssessment:
    response = c.post(
        reverse("candidacy_intake", args=[world.patient.pk]), intake_post(**overrides)
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    return CandidacyAssessment.objects.latest("created_at")


def signed_candidacy(
    world: World,
    patient: Patient,
    *,
    indications: Sequence[str] = ("ptsd", "depression"),
    summary: str = "Eligible: no hard stop, no caution.",
) -> CandidacyAssessment:
    """An eligible candidacy decision of ``patient``, signed by the world's prescriber."""
    return CandidacyAssessment.objects.create(
        patient=patient,
        created_by=world.prescriber,
        intake={"weight_kg": 72.5, "height_cm": 168},
        decision=CandidacyAssessment.Decision.ELIGIBLE,
        indications=list(indications),
        findings=[],
        summary=summary,
        status=CandidacyAssessment.Status.SIGNED,
        signed_by=world.prescriber,
        signed_at=timezone.now(),
    )
