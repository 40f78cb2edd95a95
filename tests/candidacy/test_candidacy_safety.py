"""Candidacy intake, second pass of the eligibility rules (issue 10): a C-SSRS at moderate or high
risk opens the urgent safety pathway (the same task the portal raises: portal/safety.py; Posner
2011), in the same transaction as the assessment; a screen not done is a caution; bipolar
depression entered as a code needs review; a pressure typed in kPa is refused naming the mistake;
the new findings read sensibly on the candidacy page."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import IntegrityError
from django.urls import reverse

from ketaflow.audit.context import Actor
from ketaflow.audit.models import AuditEntry
from ketaflow.candidacy.models import CandidacyAssessment
from ketaflow.patients import services
from ketaflow.patients.models import CurrentMedication, Diagnosis
from ketaflow.portal.models import UrgentTask
from tests.candidacy.builders import assess, intake_post
from tests.portal.builders import verified_client
from tests.web.conftest import World

REASON = "C-SSRS screener: high risk (candidacy intake)"


def test_high_risk_cssrs_at_intake_raises_the_urgent_task(world: World, client_for: Any) -> None:
    assessment = assess(client_for(world.nurse), world, cssrs_risk="high")
    assert assessment.decision == "needs_review"
    assert any(f["rule_id"] == "suicide.high_risk" for f in assessment.findings)
    task = UrgentTask.objects.get(patient=world.patient)
    assert task.reasons == [REASON]
    assert task.clinic == world.clinic
    assert task.is_open
    assert AuditEntry.objects.filter(
        object_type="urgent_task", action="create", patient_id=world.patient.pk
    ).exists()
    # The clinic's clinicians see the banner; another clinic's prescriber, the front desk and the
    # patient do not, and the other clinic cannot open the task.
    page = client_for(world.prescriber).get(reverse("home")).content.decode()
    assert 'id="urgent-banner"' in page
    assert reverse("urgent_task_detail", args=[task.pk]) in page
    for who in (world.foreign_prescriber, world.frontdesk):
        assert 'id="urgent-banner"' not in client_for(who).get(reverse("home")).content.decode()
    assert 'id="urgent-banner"' not in (
        verified_client(world.patient_user).get(reverse("portal_home")).content.decode()
    )
    foreign = client_for(world.foreign_prescriber)
    assert foreign.get(reverse("urgent_task_detail", args=[task.pk])).status_code == 404


def test_moderate_risk_raises_it_too_and_low_risk_does_not(world: World, client_for: Any) -> None:
    nurse = client_for(world.nurse)
    assess(nurse, world, cssrs_risk="low")
    assert not UrgentTask.objects.exists()
    assessment = assess(nurse, world, cssrs_risk="moderate")
    assert assessment.decision == "eligible"  # moderate is a note for the decision
    assert UrgentTask.objects.get().reasons == ["C-SSRS screener: moderate risk (candidacy intake)"]


def test_screen_not_done_is_a_caution_and_raises_no_task(world: World, client_for: Any) -> None:
    assessment = assess(client_for(world.nurse), world, cssrs_risk="")
    assert assessment.decision == "needs_review"
    assert [f["rule_id"] for f in assessment.cautions] == ["suicide.screen_missing"]
    assert not UrgentTask.objects.exists()
    page = client_for(world.prescriber).get(reverse("candidacy_detail", args=[assessment.pk]))
    assert "The suicide-risk screen (C-SSRS) has not been done" in page.content.decode()


def test_task_and_assessment_are_one_transaction(
    world: World, client_for: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If the task cannot be written, the assessment is not saved either."""

    def broken_save(self: UrgentTask, *args: Any, **kwargs: Any) -> None:
        raise IntegrityError("disk full")

    monkeypatch.setattr(UrgentTask, "save", broken_save)
    with pytest.raises(IntegrityError):
        client_for(world.nurse).post(
            reverse("candidacy_intake", args=[world.patient.pk]), intake_post(cssrs_risk="high")
        )
    assert not CandidacyAssessment.objects.exists()
    assert not AuditEntry.objects.filter(object_type="candidacy").exists()


def test_other_clinic_cannot_assess_and_raises_nothing(world: World, client_for: Any) -> None:
    url = reverse("candidacy_intake", args=[world.patient.pk])
    response = client_for(world.foreign_prescriber).post(url, intake_post(cssrs_risk="high"))
    assert response.status_code == 404
    assert not UrgentTask.objects.exists()
    assert not CandidacyAssessment.objects.exists()


def test_bipolar_depression_code_needs_review_not_no_indication(
    world: World, client_for: Any
) -> None:
    Diagnosis.objects.filter(patient=world.patient).delete()
    services.record_add(
        actor=Actor.system("tests"),
        patient=world.patient,
        record=Diagnosis(
            code="F31.4",
            description="Bipolar disorder, current episode depressed, severe",
        ),
    )
    assessment = assess(client_for(world.nurse), world)
    rules = {f["rule_id"]: f["tier"] for f in assessment.findings}
    assert "indication.none" not in rules
    assert rules["psychiatric.bipolar"] == "caution"
    assert assessment.decision == "needs_review"
    assert assessment.indications == ["depression"]
    page = client_for(world.prescriber).get(reverse("candidacy_detail", args=[assessment.pk]))
    assert "Bipolar depression (F31.4 bipolar disorder) is treated here only" in (
        page.content.decode()
    )


def test_psychotic_features_code_and_brand_benzodiazepine_shown(
    world: World, client_for: Any
) -> None:
    actor = Actor.system("tests")
    services.record_add(actor=actor, patient=world.patient, record=Diagnosis(code="F33.3"))
    services.record_add(
        actor=actor,
        patient=world.patient,
        record=CurrentMedication(name="Xanax", dose_amount=2, dose_unit="mg", frequency="daily"),
    )
    assessment = assess(client_for(world.nurse), world)
    rules = {f["rule_id"]: f["tier"] for f in assessment.findings}
    assert rules["psychiatric.psychosis_history"] == "caution"
    assert rules["medication.benzodiazepine_high_dose"] == "caution"  # 2 mg = 4 mg lorazepam
    html = (
        client_for(world.prescriber)
        .get(reverse("candidacy_detail", args=[assessment.pk]))
        .content.decode()
    )
    assert "(F33.3 major depressive disorder, recurrent, severe, with psychotic symptoms)" in html
    assert (
        "Benzodiazepines at 4 mg/day lorazepam-equivalent, above the 3 mg/day a ketamine trial "
        "excluded: Xanax (alprazolam)."
    ) in html


def test_pressure_in_kpa_is_refused_naming_the_mistake(world: World, client_for: Any) -> None:
    response = client_for(world.nurse).post(
        reverse("candidacy_intake", args=[world.patient.pk]),
        intake_post(systolic_bp_mmhg="16", diastolic_bp_mmhg="10"),
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "systolic BP (mmHg): 16 is not physiologically possible" in html
    assert "It looks like kPa: 16 kPa is 120 mmHg; enter mmHg." in html
    assert not CandidacyAssessment.objects.exists()
