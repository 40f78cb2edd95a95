"""Candidacy and consent pages: thin views over the access functions and services."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from ketaflow.accounts.access import require
from ketaflow.accounts.clinictime import clinic_today
from ketaflow.accounts.credentials import ClinicalAct, credential_check
from ketaflow.accounts.roles import Perm
from ketaflow.audit.context import Actor
from ketaflow.candidacy import selectors, services
from ketaflow.candidacy.access import candidacy_for_user, consent_for_user
from ketaflow.candidacy.forms import (
    ConsentRecordForm,
    ConsentWithdrawForm,
    DeclineForm,
    IntakeForm,
    SignForm,
)
from ketaflow.candidacy.intake import registry_part
from ketaflow.candidacy.models import CandidacyAssessment
from ketaflow.clinical import Sex
from ketaflow.clinicsettings.selectors import (
    SettingState,
    setting_states_by_key,
    settings_for_rule,
)
from ketaflow.patients import services as patient_services
from ketaflow.patients.access import patient_for_user
from ketaflow.patients.models import Patient
from ketaflow.web.auth import request_user
from ketaflow.web.forms import apply_validation_error


def _initial(patient: Patient) -> dict[str, Any]:
    """Prefill from the newest assessment's answers, else from the registry."""
    latest = selectors.latest_assessment_for(patient)
    if latest is not None:
        intake = latest.intake
        flat: dict[str, Any] = {
            k: intake.get(k) for k in ("sex", "weight_kg", "height_cm", "cssrs_risk")
        }
        for key in ("pregnant", "breastfeeding"):
            flat[key] = {True: "yes", False: "no"}.get(intake.get(key), "unknown")
        for section in ("medical", "psychiatric", "substance_use"):
            flat.update(intake.get(section) or {})
        flat.update(intake.get("vitals") or {})
        return flat
    sex = Sex.of(patient.sex_at_birth)
    return {
        "sex": sex.value if sex is not None else None,
        "pregnant": "unknown",
        "breastfeeding": "unknown",
    }


@login_required
@require_http_methods(["GET", "POST"])
def intake_new(request: HttpRequest, patient_id: int) -> HttpResponse:
    actor = Actor.from_request(request)
    patient = patient_for_user(
        request_user(request), patient_id, need=Perm.EDIT_CLINICAL, actor=actor
    )
    form = IntakeForm(request.POST or None, initial=_initial(patient))
    if request.method == "POST" and form.is_valid():
        try:
            assessment = services.candidacy_assess(
                actor=actor, patient=patient, answers=form.cleaned_data
            )
        except ValueError as exc:
            form.add_error(None, str(exc))
        else:
            return redirect("candidacy_detail", assessment_id=assessment.pk)
    if request.method == "GET":
        patient_services.form_viewed(
            actor=actor,
            patient=patient,
            what="the candidacy intake",
            object_type="candidacy_intake",
            object_id=patient.pk,
        )
    return render(
        request,
        "candidacy/intake.html",
        {"form": form, "patient": patient, "registry": registry_part(patient)},
    )


@login_required
def candidacy_detail(request: HttpRequest, assessment_id: int) -> HttpResponse:
    user = request_user(request)
    actor = Actor.from_request(request)
    assessment = candidacy_for_user(user, assessment_id, need=Perm.VIEW_CLINICAL, actor=actor)
    services.candidacy_viewed(actor=actor, assessment=assessment)
    check = credential_check(user, ClinicalAct.SIGN, on=clinic_today(assessment.patient.clinic))
    states = setting_states_by_key(assessment.patient.clinic)
    return render(
        request,
        "candidacy/detail.html",
        {
            "assessment": assessment,
            "patient": assessment.patient,
            "sign_form": SignForm(),
            "decline_form": DeclineForm(),
            "may_sign": user.may(Perm.SIGN_CANDIDACY),
            "credential_problems": check.problems if user.may(Perm.SIGN_CANDIDACY) else (),
            "tiers": _tier_groups(_with_settings(assessment.findings, states)),
            "resistance": [
                {**r, "settings": settings_for_rule(states, f"resistance.{r.get('indication')}.")}
                for r in assessment.resistance
            ],
        },
    )


def _with_settings(
    findings: list[dict[str, str]], states: Mapping[str, SettingState]
) -> list[dict[str, Any]]:
    """Each finding with the clinic settings its rule uses (value and sign-off); treatment
    resistance findings show theirs in the resistance section."""
    return [
        {
            **f,
            "settings": []
            if f.get("rule_id", "").startswith("resistance.")
            else settings_for_rule(states, f.get("rule_id", "")),
        }
        for f in findings
    ]


def _tier_groups(findings: list[dict[str, Any]]) -> list[tuple[str, str, list[dict[str, Any]]]]:
    labels = [("hard_stop", "Hard stops"), ("caution", "Cautions"), ("info", "Information")]
    return [(tier, label, [f for f in findings if f.get("tier") == tier]) for tier, label in labels]


def _refused(request: HttpRequest, exc: ValidationError) -> None:
    """Each rule a sign, decline or withdrawal broke, as a message on the page it returns to."""
    for errors in exc.message_dict.values():
        for error in errors:
            messages.error(request, error)


@login_required
@require_POST
def candidacy_sign(request: HttpRequest, assessment_id: int) -> HttpResponse:
    user = request_user(request)
    actor = Actor.from_request(request)
    assessment = candidacy_for_user(user, assessment_id, need=Perm.SIGN_CANDIDACY, actor=actor)
    form = SignForm(request.POST)
    form.is_valid()
    try:
        services.candidacy_sign(
            actor=actor, assessment=assessment, review_note=form.cleaned_data.get("review_note", "")
        )
    except ValidationError as exc:
        _refused(request, exc)
    else:
        messages.success(request, "Candidacy decision signed.")
    return redirect("candidacy_detail", assessment_id=assessment.pk)


@login_required
@require_POST
def candidacy_decline(request: HttpRequest, assessment_id: int) -> HttpResponse:
    """Record "not a candidate" with its reason; then the letter to the referrer."""
    user = request_user(request)
    actor = Actor.from_request(request)
    assessment = candidacy_for_user(user, assessment_id, need=Perm.SIGN_CANDIDACY, actor=actor)
    form = DeclineForm(request.POST)
    form.is_valid()  # both fields are optional text; the service names the rule a reason breaks
    try:
        services.candidacy_decline(
            actor=actor,
            assessment=assessment,
            reason=form.cleaned_data.get("reason", ""),
            referrer=form.cleaned_data.get("referrer", ""),
        )
    except ValidationError as exc:
        _refused(request, exc)
        return redirect("candidacy_detail", assessment_id=assessment.pk)
    messages.success(request, "Recorded: not a candidate. The letter to the referrer is below.")
    return redirect("candidacy_letter", assessment_id=assessment.pk)


@login_required
@require_GET
def candidacy_letter(request: HttpRequest, assessment_id: int) -> HttpResponse:
    """The printable letter to the referrer of a patient who is not a candidate."""
    user = request_user(request)
    actor = Actor.from_request(request)
    assessment = candidacy_for_user(user, assessment_id, need=Perm.SIGN_CANDIDACY, actor=actor)
    if assessment.status != CandidacyAssessment.Status.DECLINED:
        raise Http404("No letter: this assessment was not decided as not a candidate.")
    services.candidacy_letter_viewed(actor=actor, assessment=assessment)
    return render(
        request,
        "candidacy/letter.html",
        {
            "assessment": assessment,
            "patient": assessment.patient,
            "clinic": assessment.patient.clinic,
            "stops": [f for f in assessment.findings if f.get("tier") == "hard_stop"],
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def consent(request: HttpRequest, patient_id: int) -> HttpResponse:
    user = request_user(request)
    actor = Actor.from_request(request)
    patient = patient_for_user(user, patient_id, need=Perm.VIEW_CLINICAL, actor=actor)
    page = selectors.consent_page(patient)
    consent_form = page.consent_form
    form = ConsentRecordForm(request.POST or None)
    if request.method == "POST":
        require(user, Perm.RECORD_CONSENT, object_type="consent", object_id=patient.pk, actor=actor)
        if consent_form is None:
            messages.error(request, "The clinic has no consent form in effect.")
        elif form.is_valid():
            try:
                services.consent_record(
                    actor=actor,
                    patient=patient,
                    form=consent_form,
                    signed_name=form.cleaned_data["signed_name"],
                )
            except ValidationError as exc:
                apply_validation_error(form, exc)
            else:
                messages.success(request, "Consent recorded.")
                return redirect("patient_chart", patient_id=patient.pk)
    services.consent_viewed(actor=actor, patient=patient)
    return render(
        request,
        "candidacy/consent.html",
        {
            "patient": patient,
            "consent_form": consent_form,
            "form": form,
            "current": page.current,
            "history": page.history,
            "may_record": user.may(Perm.RECORD_CONSENT),
            "withdraw_form": ConsentWithdrawForm(),
        },
    )


@login_required
@require_POST
def consent_withdraw(request: HttpRequest, consent_id: int) -> HttpResponse:
    user = request_user(request)
    actor = Actor.from_request(request)
    record = consent_for_user(user, consent_id, need=Perm.RECORD_CONSENT, actor=actor)
    form = ConsentWithdrawForm(request.POST)
    try:
        services.consent_withdraw(
            actor=actor,
            consent=record,
            reason=form.cleaned_data["reason"] if form.is_valid() else "",
        )
    except ValidationError as exc:
        _refused(request, exc)
    else:
        messages.success(request, "Consent withdrawn.")
    return redirect("consent", patient_id=record.patient_id)
