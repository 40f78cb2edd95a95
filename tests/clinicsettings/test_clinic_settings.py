"""Clinic settings with the medical director's sign-off (issue 10, items 7 and 10): the page, the
services (sign-off kept, a change needs a new one, audited), clinic scoping, and the wiring of
the clinic's values into candidacy, dosing and the vital-sign alarms."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from ketaflow.accounts.roles import Role
from ketaflow.audit.context import Actor
from ketaflow.audit.models import AuditEntry
from ketaflow.clinical.clinic_settings import DEFAULT_CLINICAL_SETTINGS, REGISTRY, spec
from ketaflow.clinical.common import Indication
from ketaflow.clinicsettings import services
from ketaflow.clinicsettings.models import ClinicSetting
from ketaflow.clinicsettings.selectors import clinical_settings_for, setting_states
from tests.candidacy.builders import assess
from tests.web.conftest import World, make_user

URL = "/settings/clinical/"
FACTOR = "dosing.adjusted_bw_factor"
RISE = "monitoring.bp_rise_critical_percent"


def _post(key: str) -> str:
    return reverse("clinic_setting_update", args=[key])


@pytest.fixture
def foreign_director(world: World) -> Any:
    return make_user(world.other_clinic, "foreign-director", Role.MEDICAL_DIRECTOR)


def test_sign_off_is_kept_and_a_changed_value_needs_a_new_one(world: World) -> None:
    actor = Actor(user=world.director)
    before = AuditEntry.objects.count()
    row = services.clinic_setting_sign(actor=actor, clinic=world.clinic, key=FACTOR, value=0.4)
    assert row.is_signed
    assert row.signed_by == world.director
    assert row.signed_value == 0.4
    assert row.signed_at is not None
    signed = AuditEntry.objects.filter(object_type="clinic_setting").latest("seq")
    assert signed.clinic_id == world.clinic.pk
    assert "signed clinical setting Adjusted body weight" in signed.summary
    assert signed.detail == {"key": FACTOR, "signed_value": 0.4}
    assert AuditEntry.objects.count() == before + 1  # the default kept: no change entry

    changed = services.clinic_setting_change(
        actor=actor, clinic=world.clinic, key=FACTOR, value=0.3
    )
    assert changed is not None
    assert not changed.is_signed
    assert changed.signed_by is None
    entry = AuditEntry.objects.filter(object_type="clinic_setting").latest("seq")
    assert entry.detail == {"key": FACTOR, "old": 0.4, "new": 0.3}
    assert "0.4 -> 0.3 (sign-off needed)" in entry.summary
    state = next(s for s in setting_states(world.clinic) if s.spec.key == FACTOR)
    assert state.needs_sign_off
    assert state.status == "clinic setting, awaiting the medical director's sign-off"
    # The unsigned clinic value is in force; signing it keeps who, when and the value.
    assert clinical_settings_for(world.clinic).adjusted_bw_factor == 0.3
    services.clinic_setting_sign(actor=actor, clinic=world.clinic, key=FACTOR, value=0.3)
    state = next(s for s in setting_states(world.clinic) if s.spec.key == FACTOR)
    assert state.signed
    assert state.status.startswith("clinic setting, signed by director on ")


def test_out_of_bounds_and_inconsistent_values_are_refused(world: World) -> None:
    actor = Actor(user=world.director)
    with pytest.raises(ValidationError, match=r"outside the allowed range 0.2-0.5"):
        services.clinic_setting_change(actor=actor, clinic=world.clinic, key=FACTOR, value=0.9)
    # Below the clinic's soft cap (57.5 mg by default): refused, naming both settings.
    with pytest.raises(ValidationError, match=r"57.5 mg must be below total dose: above this is"):
        services.clinic_setting_change(
            actor=actor, clinic=world.clinic, key="dosing.total_dose_hard_max_mg", value=50
        )
    services.clinic_setting_change(
        actor=actor, clinic=world.clinic, key="dosing.total_dose_hard_max_mg", value=100
    )
    with pytest.raises(ValidationError, match=r"110 mg must be below .*\(100 mg\)"):
        services.clinic_setting_change(
            actor=actor, clinic=world.clinic, key="dosing.total_dose_soft_max_mg", value=110
        )
    assert not ClinicSetting.objects.filter(key__in=[FACTOR, "dosing.total_dose_soft_max_mg"])


@pytest.mark.parametrize("who", ["prescriber", "nurse", "foreign_prescriber", "patient_user"])
def test_only_the_clinics_director_may_write(world: World, who: str) -> None:
    actor = Actor(user=getattr(world, who))
    with pytest.raises(PermissionDenied):
        services.clinic_setting_sign(actor=actor, clinic=world.clinic, key=FACTOR, value=0.4)
    with pytest.raises(PermissionDenied):
        services.clinic_setting_change(actor=actor, clinic=world.clinic, key=FACTOR, value=0.3)
    assert not ClinicSetting.objects.exists()


def test_another_clinics_director_cannot_sign_for_this_clinic(
    world: World, foreign_director: Any
) -> None:
    with pytest.raises(PermissionDenied):
        services.clinic_setting_sign(
            actor=Actor(user=foreign_director), clinic=world.clinic, key=FACTOR, value=0.4
        )
    assert not ClinicSetting.objects.exists()


def test_director_page_lists_pending_first_with_source_and_no_raw_keys(
    world: World, client_for: Any
) -> None:
    services.clinic_setting_sign(
        actor=Actor(user=world.director), clinic=world.clinic, key=RISE, value=30
    )
    response = client_for(world.director).get(URL)
    assert response.status_code == 200
    html = response.content.decode()
    pending = sum(1 for s in REGISTRY if s.evidence.needs_sign_off) - 1
    assert f"{pending} of {len(REGISTRY)} settings awaiting your sign-off" in html
    # The pending ones come first; the signed one below, with who signed it.
    assert html.index("Awaiting your sign-off") < html.index(spec(FACTOR).label)
    assert html.index(spec(FACTOR).label) < html.index(spec(RISE).label)
    assert "signed by director on " in html
    assert "Pai &amp; Paloucek 2000" in html  # the full source stays for the director
    # its reference documents by title, not by file name
    assert "KetaFlow clinical reference, section" in html
    assert "clinical.md" not in html
    # No raw keys as text (they appear only in form addresses and element ids).
    text = html.replace(f'action="{_post(FACTOR)}"', "")
    for s in REGISTRY:
        assert f">{s.key}<" not in text
        assert f" {s.key} " not in text
    assert "Clinical settings" in client_for(world.director).get("/").content.decode()


def test_director_changes_and_signs_on_the_page(world: World, client_for: Any) -> None:
    c = client_for(world.director)
    response = c.post(_post(FACTOR), {"value": "0.35", "action": "save"})
    assert response.status_code == 302
    assert ClinicSetting.objects.get(key=FACTOR).value == 0.35
    assert not ClinicSetting.objects.get(key=FACTOR).is_signed
    response = c.post(_post(FACTOR), {"value": "0.35", "action": "sign"})
    assert response.status_code == 302
    assert ClinicSetting.objects.get(key=FACTOR).is_signed
    # Bounds: the error names the setting and the rule.
    response = c.post(_post(FACTOR), {"value": "0.9", "action": "sign"})
    assert response.status_code == 400
    html = response.content.decode()
    assert (
        "Adjusted body weight: share of the weight above ideal: 0.9 is outside the allowed "
        "range 0.2-0.5" in html
    )
    assert ClinicSetting.objects.get(key=FACTOR).value == 0.35
    response = c.post(_post(FACTOR), {"value": "abc", "action": "save"})
    assert response.status_code == 400
    assert "is not a number" in response.content.decode()
    # An optional rule is turned off with a blank value.
    response = c.post(_post(RISE), {"value": "", "action": "sign"})
    assert response.status_code == 302
    assert (
        clinical_settings_for(world.clinic)
        .monitoring.changes[next(iter(DEFAULT_CLINICAL_SETTINGS.monitoring.changes))]
        .critical_rise_percent
        is None
    )


@pytest.mark.parametrize("who", ["prescriber", "nurse", "frontdesk", "patient_user"])
def test_page_refused_to_other_roles(world: World, client_for: Any, who: str) -> None:
    c = client_for(getattr(world, who))
    assert c.get(URL).status_code == 403
    assert c.post(_post(FACTOR), {"value": "0.3", "action": "sign"}).status_code == 403
    assert not ClinicSetting.objects.exists()
    assert AuditEntry.objects.filter(action="denied", object_type="clinic_settings").exists()
    assert "Clinical settings</a>" not in c.get("/").content.decode()


def test_other_clinics_director_sees_and_signs_only_their_own(
    world: World, client_for: Any, foreign_director: Any
) -> None:
    services.clinic_setting_change(
        actor=Actor(user=world.director), clinic=world.clinic, key=FACTOR, value=0.3
    )
    c = client_for(foreign_director)
    html = c.get(URL).content.decode()
    assert "Other Clinic" in html
    assert "Test Clinic" not in html
    assert "0.3 " not in html.split("Adjusted body weight")[1][:400]
    response = c.post(_post(FACTOR), {"value": "0.3", "action": "sign"})
    assert response.status_code == 302
    ours = ClinicSetting.objects.get(clinic=world.clinic, key=FACTOR)
    assert not ours.is_signed  # Test Clinic's value is still unsigned
    theirs = ClinicSetting.objects.get(clinic=world.other_clinic, key=FACTOR)
    assert theirs.signed_by == foreign_director
    assert clinical_settings_for(world.clinic).adjusted_bw_factor == 0.3


def test_anonymous_is_sent_to_login(client: Any) -> None:
    assert client.get(URL).status_code == 302


def test_candidacy_uses_the_clinics_settings(world: World, client_for: Any) -> None:
    """A screening BP of 172/95 is a caution by default and a hard stop when the clinic set the
    systolic limit to 170 mmHg."""
    c = client_for(world.prescriber)
    default = assess(c, world, systolic_bp_mmhg="172", diastolic_bp_mmhg="95")
    assert default.decision != "not_eligible"
    services.clinic_setting_change(
        actor=Actor(user=world.director),
        clinic=world.clinic,
        key="eligibility.bp_hard_stop_systolic_mmhg",
        value=170,
    )
    stricter = assess(c, world, systolic_bp_mmhg="172", diastolic_bp_mmhg="95")
    assert stricter.decision == "not_eligible"
    assert any(f["rule_id"] == "vitals.bp_very_high" for f in stricter.findings)


def test_patient_page_shows_setting_status_not_recalled_tags(world: World, client_for: Any) -> None:
    """Item 5: the prescriber sees each setting's value and status, no evidence tag."""
    c = client_for(world.prescriber)
    assessment = assess(c, world, systolic_bp_mmhg="185", diastolic_bp_mmhg="95")
    assert "RECALLED" in str(assessment.resistance)  # the core's source still says so
    services.clinic_setting_sign(
        actor=Actor(user=world.director),
        clinic=world.clinic,
        key="resistance.ptsd_dose.sertraline",
        value=100,
    )
    html = c.get(reverse("candidacy_detail", args=[assessment.pk])).content.decode()
    for tag in (
        "RECALLED",
        "unverified",
        "clinic must set",
        "[SECONDARY]",
        "Clinic policy default",
    ):
        assert tag not in html, tag
    assert (
        "Adequate sertraline dose for PTSD: <strong>100 mg/day</strong> (default, signed by "
        "director on " in html
    )
    assert (
        "Adequate paroxetine dose for PTSD: <strong>20 mg/day</strong> (default, awaiting "
        "the medical director&#x27;s sign-off)" in html
    )
    assert "Screening systolic pressure that stops candidacy: <strong>180 mmHg</strong>" in html
    chart = c.get(reverse("patient_chart", args=[world.patient.pk])).content.decode()
    assert "RECALLED" not in chart


def test_selector_defaults_without_rows(world: World) -> None:
    assert clinical_settings_for(world.clinic) is DEFAULT_CLINICAL_SETTINGS
    assert clinical_settings_for(None) is DEFAULT_CLINICAL_SETTINGS
    assert DEFAULT_CLINICAL_SETTINGS.drug_library[Indication.PTSD].adjusted_bw_factor == 0.4
