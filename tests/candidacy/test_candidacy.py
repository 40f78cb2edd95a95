"""Candidacy from intake to sign-off, and informed consent."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from ketaflow.accounts.models import Credential
from ketaflow.accounts.roles import Role
from ketaflow.audit.models import AuditEntry
from ketaflow.candidacy.intake import MEDICAL_FLAGS, PSYCHIATRIC_FLAGS, SUBSTANCE_FLAGS
from ketaflow.candidacy.models import CandidacyAssessment, Consent, ConsentForm
from ketaflow.candidacy.selectors import current_consent_for, signed_candidacy_for
from tests.candidacy.builders import assess, intake_post
from tests.web.conftest import World, make_user


@pytest.fixture
def consent_form(world: World) -> ConsentForm:
    return ConsentForm.objects.create(
        clinic=world.clinic,
        version="2026.1",
        title="Consent to off-label ketamine infusion",
        body="Ketamine is not approved for PTSD. Risks include raised blood pressure.",
        effective_on=timezone.localdate() - dt.timedelta(days=10),
    )


def test_form_asks_every_history_question_of_the_rules(world: World, client_for: Any) -> None:
    body = client_for(world.nurse).get(reverse("candidacy_intake", args=[world.patient.pk]))
    html = body.content.decode()
    for name in MEDICAL_FLAGS + PSYCHIATRIC_FLAGS + SUBSTANCE_FLAGS:
        assert f'name="{name}"' in html, name
    assert "F43.12" in html  # registry diagnoses are shown beside the form
    assert "Sertraline" in html


def test_eligible_patient_is_signed_by_prescriber(world: World, client_for: Any) -> None:
    assessment = assess(client_for(world.nurse), world)
    assert assessment.decision == "eligible", assessment.findings
    assert assessment.intake["diagnoses"][0]["code"] == "F43.12"
    assert assessment.intake["medication_trials"][0]["drug"] == "Sertraline"
    page = client_for(world.prescriber).get(reverse("candidacy_detail", args=[assessment.pk]))
    html = page.content.decode()
    assert "Eligible" in html
    assert "treatment-resistant" in html
    assert "Sertraline" in html
    response = client_for(world.prescriber).post(
        reverse("candidacy_sign", args=[assessment.pk]), {"review_note": ""}
    )
    assert response.status_code == 302
    assessment.refresh_from_db()
    assert assessment.status == "signed"
    assert assessment.signed_by == world.prescriber
    assert signed_candidacy_for(world.patient) == assessment
    assert AuditEntry.objects.filter(object_type="candidacy", action="update").exists()


def test_hard_stop_cannot_be_signed(world: World, client_for: Any) -> None:
    assessment = assess(client_for(world.nurse), world, active_psychosis="on")
    assert assessment.decision == "not_eligible"
    assert assessment.has_hard_stop
    page = client_for(world.prescriber).get(reverse("candidacy_detail", args=[assessment.pk]))
    assert "A hard stop cannot be signed past" in page.content.decode()
    response = client_for(world.prescriber).post(
        reverse("candidacy_sign", args=[assessment.pk]), {"review_note": "x" * 40}, follow=True
    )
    assert "A hard stop cannot be signed past" in response.content.decode()
    assessment.refresh_from_db()
    assert assessment.status == "assessed"
    assert signed_candidacy_for(world.patient) is None


def test_caution_needs_a_written_review(world: World, client_for: Any) -> None:
    assessment = assess(client_for(world.nurse), world, sleep_apnea_or_difficult_airway="on")
    assert assessment.decision == "needs_review"
    assert assessment.cautions
    c = client_for(world.prescriber)
    url = reverse("candidacy_sign", args=[assessment.pk])
    response = c.post(url, {"review_note": "ok"}, follow=True)
    assert "Review of cautions: write at least 20 characters" in response.content.decode()
    assessment.refresh_from_db()
    assert assessment.status == "assessed"
    c.post(url, {"review_note": "Apnoea: capnography and airway cart at the chair."})
    assessment.refresh_from_db()
    assert assessment.status == "signed"
    assert assessment.review_note.startswith("Apnoea")


@pytest.mark.parametrize("role", ["nurse", "frontdesk"])
def test_nurse_and_front_desk_cannot_sign(world: World, client_for: Any, role: str) -> None:
    assessment = assess(client_for(world.nurse), world)
    response = client_for(world.staff()[role]).post(
        reverse("candidacy_sign", args=[assessment.pk]), {"review_note": ""}
    )
    assert response.status_code == 403
    assessment.refresh_from_db()
    assert assessment.status == "assessed"


def test_prescriber_with_expired_licence_cannot_sign(world: World, client_for: Any) -> None:
    assessment = assess(client_for(world.nurse), world)
    Credential.objects.filter(user=world.prescriber, kind="licence").update(
        expires_on=timezone.localdate() - dt.timedelta(days=1)
    )
    response = client_for(world.prescriber).post(
        reverse("candidacy_sign", args=[assessment.pk]), {}, follow=True
    )
    assert "Cannot sign: Professional licence expired" in response.content.decode()
    assessment.refresh_from_db()
    assert assessment.status == "assessed"


def test_new_intake_supersedes_unsigned_and_signing_supersedes_signed(
    world: World, client_for: Any
) -> None:
    nurse, prescriber = client_for(world.nurse), client_for(world.prescriber)
    first = assess(nurse, world)
    second = assess(nurse, world)
    first.refresh_from_db()
    assert first.status == "superseded"
    prescriber.post(reverse("candidacy_sign", args=[second.pk]))
    third = assess(nurse, world)
    prescriber.post(reverse("candidacy_sign", args=[third.pk]))
    second.refresh_from_db()
    assert second.status == "superseded"
    assert signed_candidacy_for(world.patient) == CandidacyAssessment.objects.get(pk=third.pk)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"diastolic_bp_mmhg": "130"}, "Diastolic pressure must be below systolic"),
        ({"heart_rate_bpm": None}, "Give systolic and diastolic pressure and heart rate together"),
        ({"weight_kg": "5"}, "5 kg is outside the plausible range 20-400 kg"),
        ({"weight_kg": "900", "weight_unit": "lb"}, "408.2 kg is outside the plausible range"),
        ({"sex": "male", "pregnant": "yes"}, "Pregnant cannot be yes when sex is male"),
        ({"systolic_bp_mmhg": "401"}, "systolic BP (mmHg): 401 is not physiologically possible"),
    ],
)
def test_bad_intake_names_the_field(
    world: World, client_for: Any, overrides: dict[str, Any], message: str
) -> None:
    response = client_for(world.nurse).post(
        reverse("candidacy_intake", args=[world.patient.pk]), intake_post(**overrides)
    )
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not CandidacyAssessment.objects.exists()


def test_consent_recorded_with_witness_and_withdrawn(
    world: World, client_for: Any, consent_form: ConsentForm
) -> None:
    c = client_for(world.nurse)
    url = reverse("consent", args=[world.patient.pk])
    page = c.get(url).content.decode()
    assert "Ketamine is not approved for PTSD" in page
    assert "No consent in effect" in page
    wrong = c.post(url, {"signed_name": "Someone Else", "understood": "on"})
    assert "must be the patient&#x27;s full name" in wrong.content.decode()
    assert c.post(url, {"signed_name": "alice  ANDERS", "understood": "on"}).status_code == 302
    consent = current_consent_for(world.patient)
    assert consent is not None
    assert (consent.witness, consent.form) == (world.nurse, consent_form)
    c.post(reverse("consent_withdraw", args=[consent.pk]), {"reason": "patient changed mind"})
    assert current_consent_for(world.patient) is None
    assert Consent.objects.get().withdrawal_reason == "patient changed mind"


def test_retired_form_no_longer_counts(
    world: World, client_for: Any, consent_form: ConsentForm
) -> None:
    client_for(world.nurse).post(
        reverse("consent", args=[world.patient.pk]),
        {"signed_name": "Alice Anders", "understood": "on"},
    )
    assert current_consent_for(world.patient) is not None
    consent_form.retired = True
    consent_form.save()
    assert current_consent_for(world.patient) is None


def test_front_desk_cannot_record_or_see_consent(
    world: World, client_for: Any, consent_form: ConsentForm
) -> None:
    c = client_for(world.frontdesk)
    assert c.get(reverse("consent", args=[world.patient.pk])).status_code == 403
    assert c.get(reverse("candidacy_intake", args=[world.patient.pk])).status_code == 403


@pytest.mark.parametrize(
    "name", ["candidacy_intake", "consent", "candidacy_detail", "candidacy_sign"]
)
def test_anonymous_and_other_clinic(world: World, client_for: Any, name: str) -> None:
    assessment = CandidacyAssessment.objects.create(
        patient=world.patient, created_by=world.nurse, intake={}, decision="eligible", summary="x"
    )
    arg = (
        assessment.pk
        if name.startswith("candidacy_") and "intake" not in name
        else world.patient.pk
    )
    url = reverse(name, args=[arg])
    anonymous = Client().get(url)
    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith(reverse("login"))
    foreign = client_for(world.foreign_prescriber)
    response = foreign.post(url) if name == "candidacy_sign" else foreign.get(url)
    assert response.status_code == 404
    # The patient reads their own decision and consent, but neither assesses nor signs.
    patient = client_for(world.patient_user)
    response = patient.post(url) if name == "candidacy_sign" else patient.get(url)
    assert response.status_code == (200 if name in ("consent", "candidacy_detail") else 403)


def test_chart_shows_candidacy_and_consent(world: World, client_for: Any) -> None:
    assess(client_for(world.nurse), world)
    chart = client_for(world.nurse).get(reverse("patient_chart", args=[world.patient.pk]))
    html = chart.content.decode()
    assert 'id="candidacy"' in html
    assert "Assessed, awaiting sign-off" in html
    assert "none in effect" in html
    front = client_for(world.frontdesk).get(reverse("patient_chart", args=[world.patient.pk]))
    assert 'id="candidacy"' not in front.content.decode()


def test_candidacy_pages_are_audited(world: World, client_for: Any) -> None:
    assessment = assess(client_for(world.nurse), world)
    before = AuditEntry.objects.order_by("-id").values_list("id", flat=True).first() or 0
    client_for(world.director).get(reverse("candidacy_detail", args=[assessment.pk]))
    client_for(world.director).get(reverse("consent", args=[world.patient.pk]))
    client_for(world.director).get(reverse("candidacy_intake", args=[world.patient.pk]))
    new = AuditEntry.objects.filter(id__gt=before, actor=world.director, action="view")
    assert set(new.values_list("object_type", flat=True)) == {
        "candidacy",
        "consent",
        "candidacy_intake",
    }


def test_a_hard_stop_is_recorded_as_not_a_candidate_with_a_letter(
    world: World, client_for: Any
) -> None:
    assessment = assess(client_for(world.nurse), world, active_psychosis="on")
    c = client_for(world.prescriber)
    detail = reverse("candidacy_detail", args=[assessment.pk])
    page = c.get(detail).content.decode()
    assert "awaiting the prescriber&#x27;s decision" in page
    assert 'id="decline-form"' in page
    decline = reverse("candidacy_decline", args=[assessment.pk])
    # The reason is required and named.
    response = c.post(decline, {"reason": "too short"}, follow=True)
    assert "Reason: write at least 20 characters" in response.content.decode()
    response = c.post(decline, {"reason": ""}, follow=True)
    assert "Reason: write at least 20 characters" in response.content.decode()
    assessment.refresh_from_db()
    assert assessment.status == "assessed"
    response = c.post(
        decline,
        {"reason": "Active psychosis: ketamine may worsen it.", "referrer": "Dr Ruth Mendel"},
    )
    assert response["Location"] == reverse("candidacy_letter", args=[assessment.pk])
    assessment.refresh_from_db()
    assert assessment.status == "declined"
    assert assessment.signed_by == world.prescriber
    assert signed_candidacy_for(world.patient) is None
    entry = AuditEntry.objects.filter(object_type="candidacy", action="update").latest("pk")
    assert entry.summary == "decided: not a candidate"
    # The heading follows the decision; nothing is left to sign.
    page = c.get(detail).content.decode()
    assert "<h2>Not a candidate</h2>" in page
    assert 'id="decline-form"' not in page
    assert "Active psychosis: ketamine may worsen it." in page
    letter = c.get(reverse("candidacy_letter", args=[assessment.pk])).content.decode()
    assert "To: Dr Ruth Mendel" in letter
    assert "is not a candidate for ketamine infusion treatment" in letter
    assert "Active psychosis: ketamine may worsen it." in letter
    assert AuditEntry.objects.filter(object_type="candidacy_letter", action="view").exists()
    # Decided once: a second decision is refused.
    again = c.post(decline, {"reason": "x" * 30}, follow=True).content.decode()
    assert "This assessment is not a candidate." in again


def test_the_heading_follows_the_signed_decision(world: World, client_for: Any) -> None:
    assessment = assess(client_for(world.nurse), world, sleep_apnea_or_difficult_airway="on")
    c = client_for(world.prescriber)
    c.post(
        reverse("candidacy_sign", args=[assessment.pk]),
        {"review_note": "Apnoea: capnography and airway cart at the chair."},
    )
    page = c.get(reverse("candidacy_detail", args=[assessment.pk])).content.decode()
    assert "<h2>Candidate: cautions reviewed</h2>" in page
    assert "<h2>Needs review</h2>" not in page
    # A signed assessment has no letter.
    assert c.get(reverse("candidacy_letter", args=[assessment.pk])).status_code == 404


@pytest.mark.parametrize("who", ["nurse", "frontdesk", "patient_user", "foreign"])
def test_only_the_clinics_prescribers_decide_not_a_candidate(
    world: World, client_for: Any, who: str
) -> None:
    assessment = assess(client_for(world.nurse), world, active_psychosis="on")
    user = {
        "nurse": world.nurse,
        "frontdesk": world.frontdesk,
        "patient_user": world.patient_user,
        "foreign": make_user(world.other_clinic, "foreign-director", Role.MEDICAL_DIRECTOR),
    }[who]
    c = client_for(user)
    response = c.post(reverse("candidacy_decline", args=[assessment.pk]), {"reason": "x" * 40})
    assert response.status_code == (404 if who == "foreign" else 403)
    assessment.refresh_from_db()
    assert assessment.status == "assessed"
    director = client_for(world.director)
    director.post(reverse("candidacy_decline", args=[assessment.pk]), {"reason": "y" * 40})
    letter = reverse("candidacy_letter", args=[assessment.pk])
    assert director.get(letter).status_code == 200
    assert c.get(letter).status_code == (404 if who == "foreign" else 403)
    assert Client().get(letter).status_code == 302
