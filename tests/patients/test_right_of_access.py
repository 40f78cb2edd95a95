"""Issue 16 item 5, the right of access (HIPAA 45 CFR 164.524): a patient's complete record as
a readable PDF and a machine-readable file, for staff on the patient's request and for the
patient from the portal; audited; nothing of another patient or clinic; every record kind the
clinic keeps is in it (found by the model registry, so a kind added later cannot be missed)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from django.apps import apps
from django.db import connection, models
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from ketaflow.accounts.roles import Role
from ketaflow.audit.models import AuditEntry
from ketaflow.candidacy.models import CandidacyAssessment
from ketaflow.patients import right_of_access
from ketaflow.patients.models import Patient
from tests.infusions.builders import prepare, reading, side_effect
from tests.web.conftest import World, logged_in, make_user
from tests.web.sweep import pdf_text

pytestmark = pytest.mark.django_db


def _patient_keyed() -> set[str]:
    return {
        m._meta.label
        for m in apps.get_models()
        if m is not Patient
        and any(
            isinstance(f, models.ForeignKey) and f.related_model is Patient
            for f in m._meta.get_fields()
        )
    }


def test_every_kind_of_record_about_a_patient_is_in_the_export() -> None:
    found = {m._meta.label for m in right_of_access.patient_models()}
    # The scan finds what it should: the chart, the infusion, the questionnaires, the ledger.
    assert {
        "patients.Allergy",
        "infusions.InfusionSession",
        "assessments.InstrumentResponse",
        "ledger.LedgerEntry",
        "candidacy.Consent",
    } <= found
    assert found | set(right_of_access.EXCLUDED) == _patient_keyed()
    children = {
        m._meta.label
        for m in right_of_access.child_models(apps.get_model("infusions", "InfusionSession"))
    }
    assert {"infusions.VitalsEntry", "infusions.InfusionEvent", "infusions.SideEffect"} <= children


def test_staff_download_the_complete_record_on_request(world: World) -> None:
    session = prepare(world)  # vitals, questionnaires, dose, a vial drawn from the ledger
    director = logged_in(world.director)
    response = director.get(reverse("patient_record_json", args=[world.patient.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert "no-store" in response["Cache-Control"]
    assert f"{world.patient.mrn}-complete-record.json" in response["Content-Disposition"]
    data = json.loads(response.content)
    assert data["patient"]["Given name"] == world.patient.given_name
    assert set(data["patient"]) >= {"Escort name", "Escort phone"}  # every registry field
    assert data["time_zone"] == world.clinic.time_zone
    infusions = data["records"]["Infusion sessions"]
    assert len(infusions) == 1
    readings = infusions[0]["Vitals entries"]
    assert readings[0]["Systolic (mmHg)"] == 120
    assert "SpO2 (%)" in readings[0]
    # The dose figures are read from the stored plan and listed after it, as their columns were.
    keys = list(infusions[0])
    assert keys[keys.index("Plan") + 1 : keys.index("Plan") + 8] == [
        "Dose (mg)",
        "Drug volume (mL)",
        "Drug volume ml exact",
        "Total volume (mL)",
        "Final concentration (mg/mL)",
        "Rate (mL/h)",
        "Rate ml per h exact",
    ]
    session.refresh_from_db()
    assert session.plan is not None
    assert infusions[0]["Dose (mg)"] == session.dose_mg == session.plan["dose_mg"]
    assert infusions[0]["Rate (mL/h)"] == session.plan["rate_ml_per_h"]
    assert data["records"]["Ledger entries"]  # the draw for this patient's infusion
    assert session.pk
    text = json.dumps(data)
    for machinery in ("lock_hash", "prev_hash", "token_hash", "client_uuid", '"Hash"'):
        assert machinery not in text
    for other in (world.other_patient, world.foreign_patient):
        assert other.family_name not in text
        assert other.mrn not in text
    entry = AuditEntry.objects.filter(action="export", patient_id=world.patient.pk).last()
    assert entry is not None
    assert "complete record as JSON" in entry.summary
    assert "staff, on the patient's request" in entry.summary

    pdf = director.get(reverse("patient_record_pdf", args=[world.patient.pk]))
    assert pdf.status_code == 200
    assert pdf["Content-Type"] == "application/pdf"
    body = pdf_text(pdf.content)
    assert "Complete patient record" in body
    assert world.patient.mrn in body
    assert "Infusion sessions" in body
    assert "Vitals entries" in body
    assert not re.search(r"\d[eE][+-]?\d", body)  # no number in exponent notation
    assert world.other_patient.family_name not in body


def _export_queries(patient: Patient) -> tuple[int, dict[str, Any]]:
    with CaptureQueriesContext(connection) as queries:
        data = right_of_access.as_json(right_of_access.complete_record(patient))
    return len(queries), data


def test_the_export_reads_each_kind_once_however_many_records(world: World) -> None:
    """The export read every record a record refers to (the nurse who took a reading, the
    session of a correction) and every record's children with a query each: 281 queries for one
    demo patient, a third of a second for the data file. Now one query a kind of record and of
    reference: more readings and side effects cost no query more, and each reference still
    names the right record (the reading's nurse, the corrected reading's time)."""
    session = prepare(world)
    before, _ = _export_queries(world.patient)
    reading(world, session, None, sbp=131)
    side_effect(world, session)
    reading(world, session, None, sbp=132)
    after, data = _export_queries(world.patient)
    assert after == before
    readings = data["records"]["Infusion sessions"][0]["Vitals entries"]
    assert [r["Systolic (mmHg)"] for r in readings][-2:] == [131, 132]
    assert {r["By"] for r in readings} == {str(world.nurse)}
    assert data["records"]["Infusion sessions"][0]["Side effects"]


def test_the_readable_file_prints_no_structured_result_as_code(world: World) -> None:
    """A list of findings (the candidacy's rules, a resistance assessment's judgements) was
    printed in the PDF as JSON (``[{"tier": ...``); it is in the data file only, as a mapping
    already was."""
    prepare(world)
    finding = {"tier": "caution", "rule_id": "bp", "message": "Blood pressure to recheck."}
    CandidacyAssessment.objects.filter(patient=world.patient).update(findings=[finding])
    record = right_of_access.complete_record(world.patient)
    assert right_of_access.as_json(record)["records"]["Candidacy assessments"][0]["Findings"] == [
        finding
    ]
    body = pdf_text(right_of_access.as_pdf(record))
    assert "Candidacy assessments" in body
    assert '"tier"' not in body
    assert "{" not in body


@pytest.mark.parametrize("fmt", ["pdf", "json"])
def test_another_clinic_and_roles_without_export_get_nothing(world: World, fmt: str) -> None:
    url = reverse(f"patient_record_{fmt}", args=[world.patient.pk])
    foreign_director = make_user(world.other_clinic, "foreign-director", Role.MEDICAL_DIRECTOR)
    for user, status in (
        (foreign_director, 404),
        (world.foreign_prescriber, 404),
        (world.frontdesk, 403),
        (world.patient_user, 403),  # staff pages are not the portal
    ):
        client = logged_in(user)
        assert client.get(url).status_code == status, user.username
        assert client.post(url).status_code in (403, 404, 405)
    assert Client().get(url).status_code == 302  # to the login
    assert not AuditEntry.objects.filter(action="export", patient_id=world.patient.pk).exists()


def test_the_patient_downloads_their_own_record_from_the_portal(world: World) -> None:
    prepare(world)
    me = logged_in(world.patient_user)
    page = me.get(reverse("portal_record"))
    assert page.status_code == 200
    assert b"Download as PDF" in page.content
    data = json.loads(me.get(reverse("portal_record_json")).content)
    assert data["patient"]["Record number"] == world.patient.mrn
    assert data["records"]["Infusion sessions"]
    pdf = me.get(reverse("portal_record_pdf"))
    assert world.patient.mrn in pdf_text(pdf.content)
    entry = AuditEntry.objects.filter(action="export", patient_id=world.patient.pk).last()
    assert entry is not None
    assert "the patient, from the portal" in entry.summary
    assert me.post(reverse("portal_record_json")).status_code == 405


def test_another_patient_gets_only_their_own_record(world: World) -> None:
    prepare(world)
    other_login = make_user(world.clinic, "other-patient", Role.PATIENT)
    Patient.objects.filter(pk=world.other_patient.pk).update(user=other_login)
    them = logged_in(other_login)
    data: dict[str, Any] = json.loads(them.get(reverse("portal_record_json")).content)
    assert data["patient"]["Record number"] == world.other_patient.mrn
    assert world.patient.mrn not in json.dumps(data)
    assert data["records"]["Infusion sessions"] == []
    assert world.patient.family_name not in pdf_text(them.get(reverse("portal_record_pdf")).content)
    # Staff have no portal record.
    assert logged_in(world.director).get(reverse("portal_record_json")).status_code == 404


@pytest.mark.browser
@pytest.mark.xdist_group(f"browser-{__name__}")
def test_the_record_pages_in_chromium_at_three_widths(live_server: Any, live_world: World) -> None:
    """The portal's *My record* page on a phone and the chart's buttons at desktop widths:
    nothing wider than the screen, no CSP violation; screenshots to look at."""
    from django.conf import settings

    from tests.web.browser import chromium, csp_violations, shot

    def as_logged_in(browser: Any, user: Any) -> None:
        cookie = logged_in(user).cookies[settings.SESSION_COOKIE_NAME].value
        browser.get(f"{live_server.url}/login/")
        browser.delete_all_cookies()
        browser.add_cookie({"name": settings.SESSION_COOKIE_NAME, "value": cookie})

    fits = "return document.documentElement.scrollWidth <= window.innerWidth + 1"
    for width in (390, 1024, 1366):
        phone = (390, 844) if width == 390 else None  # a phone is emulated (windows are 500+)
        with chromium(window=None if phone else (width, 900), phone=phone) as browser:
            as_logged_in(browser, live_world.patient_user)
            browser.get(f"{live_server.url}/portal/record/")
            assert "Download as PDF" in browser.page_source
            assert browser.execute_script(fits)
            shot(browser, f"portal-record-{width}")
            browser.get(f"{live_server.url}/portal/crisis/")
            assert "Veterans Crisis Line" in browser.page_source
            assert browser.execute_script(fits)
            shot(browser, f"portal-crisis-{width}")
            as_logged_in(browser, live_world.director)
            browser.get(f"{live_server.url}/patients/{live_world.patient.pk}/")
            assert browser.find_element("id", "complete-record-pdf").is_displayed()
            assert browser.execute_script(fits)
            shot(browser, f"chart-complete-record-{width}")
            assert csp_violations(browser) == []
