from __future__ import annotations

from typing import Any

from django import forms

from ketaflow.candidacy.intake import (
    MEDICAL_FLAGS,
    MEDICAL_MONTHS,
    PSYCHIATRIC_FLAGS,
    SUBSTANCE_FLAGS,
)
from ketaflow.clinical import ImpossibleValueError, Sex, SuicideRisk, VitalSign
from ketaflow.clinical.common import choices
from ketaflow.clinical.dosing import HEIGHT_CM_RANGE
from ketaflow.clinical.monitoring import check_possible
from ketaflow.web.forms import WEIGHT_HELP, weight_in_kg, weight_unit_field

_TRI = [("unknown", "Not known"), ("no", "No"), ("yes", "Yes")]

# Wording a clinician reads; any flag not named here gets its field name in words.
_LABELS = {
    "ketamine_hypersensitivity": "Hypersensitivity to ketamine",
    "aneurysmal_vascular_disease": "Aneurysmal vascular disease (aortic, intracranial, peripheral)",
    "arteriovenous_malformation": "Arteriovenous malformation",
    "intracerebral_hemorrhage": "History of intracerebral haemorrhage",
    "uncontrolled_hypertension": "Uncontrolled hypertension",
    "arrhythmia_or_prolonged_qt": "Arrhythmia or prolonged QT",
    "moderate_severe_brain_injury": "Moderate or severe traumatic brain injury",
    "lower_urinary_tract_disease": "Lower urinary tract disease or cystitis",
    "sleep_apnea_or_difficult_airway": "Sleep apnoea or difficult airway",
    "myocardial_infarction_months_ago": "Myocardial infarction: months ago (blank if never)",
    "stroke_months_ago": "Stroke: months ago (blank if never)",
    "psychotic_disorder_history": "History of a psychotic disorder",
    "active_substance_use_disorder": "Active substance use disorder",
    "ketamine_or_pcp_misuse": "Ketamine or PCP misuse (ever)",
}


def _label(name: str) -> str:
    return _LABELS.get(name, name.replace("_", " ").capitalize())


class IntakeForm(forms.Form):
    """The consultation's questions. Diagnoses, allergies, medications and prior treatment come
    from the registry and are shown beside the form, not asked again."""

    sex = forms.ChoiceField(
        choices=choices(Sex),
        help_text="Sex used for pregnancy rules and ideal body weight.",
    )
    pregnant = forms.ChoiceField(choices=_TRI, label="Pregnant")
    breastfeeding = forms.ChoiceField(choices=_TRI, label="Breastfeeding")
    weight_kg = forms.DecimalField(
        label="Weight", decimal_places=1, required=False, help_text=WEIGHT_HELP
    )
    weight_unit = weight_unit_field()
    height_cm = forms.DecimalField(
        label="Height (cm)",
        min_value=HEIGHT_CM_RANGE[0],
        max_value=HEIGHT_CM_RANGE[1],
        decimal_places=1,
        required=False,
    )
    systolic_bp_mmhg = forms.IntegerField(label="Systolic BP (mmHg)", required=False)
    diastolic_bp_mmhg = forms.IntegerField(label="Diastolic BP (mmHg)", required=False)
    heart_rate_bpm = forms.IntegerField(label="Heart rate (/min)", required=False)
    cssrs_risk = forms.ChoiceField(
        label="C-SSRS screener risk at consultation",
        choices=[("", "Not done"), *choices(SuicideRisk)],
        required=False,
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in MEDICAL_FLAGS + PSYCHIATRIC_FLAGS + SUBSTANCE_FLAGS:
            self.fields[name] = forms.BooleanField(label=_label(name), required=False)
        for name in MEDICAL_MONTHS:
            self.fields[name] = forms.DecimalField(
                label=_label(name), min_value=0, max_value=1200, required=False
            )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        weight_in_kg(self, data)
        data.pop("weight_entered", None)  # the form shows the conversion; kg is what is kept
        # Impossible readings are refused by the clinical monitoring rules' entry guard, the
        # same one the infusion flowsheet uses (form field names are the VitalSign values).
        for sign in (VitalSign.SYSTOLIC_BP, VitalSign.DIASTOLIC_BP, VitalSign.HEART_RATE):
            value = data.get(sign.value)
            if value is not None:
                try:
                    check_possible(sign, float(value))
                except ImpossibleValueError as exc:
                    self.add_error(sign.value, str(exc))
                    data.pop(sign.value, None)
        bp = [data.get(k) for k in ("systolic_bp_mmhg", "diastolic_bp_mmhg", "heart_rate_bpm")]
        if any(v is not None for v in bp) and any(v is None for v in bp):
            self.add_error(
                "systolic_bp_mmhg", "Give systolic and diastolic pressure and heart rate together."
            )
        sbp, dbp = data.get("systolic_bp_mmhg"), data.get("diastolic_bp_mmhg")
        if sbp is not None and dbp is not None and dbp >= sbp:
            self.add_error("diastolic_bp_mmhg", "Diastolic pressure must be below systolic.")
        if data.get("sex") == "male" and data.get("pregnant") == "yes":
            self.add_error("pregnant", "Pregnant cannot be yes when sex is male.")
        return data

    def sections(self) -> list[tuple[str, list[forms.BoundField]]]:
        def group(names: list[str]) -> list[forms.BoundField]:
            return [self[n] for n in names]

        return [
            (
                "Patient",
                group(
                    ["sex", "pregnant", "breastfeeding", "weight_kg", "weight_unit", "height_cm"]
                ),
            ),
            (
                "Vital signs",
                group(["systolic_bp_mmhg", "diastolic_bp_mmhg", "heart_rate_bpm", "cssrs_risk"]),
            ),
            ("Medical history", group(MEDICAL_FLAGS + MEDICAL_MONTHS)),
            ("Psychiatric history", group(PSYCHIATRIC_FLAGS)),
            ("Substance use", group(SUBSTANCE_FLAGS)),
        ]


class SignForm(forms.Form):
    review_note = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}),
        required=False,
        label="Review of cautions",
        help_text="Required when the decision lists cautions: how each one is managed.",
    )


class DeclineForm(forms.Form):
    reason = forms.CharField(
        # The browser asks for 20 characters before sending; the service is the rule.
        widget=forms.Textarea(attrs={"rows": 4, "required": True, "minlength": 20}),
        label="Why the patient is not a candidate",
        help_text="At least 20 characters; the letter to the referrer quotes it.",
        required=False,
        max_length=4000,
    )
    referrer = forms.CharField(
        max_length=300,
        required=False,
        label="Referred by (the letter's addressee)",
        help_text="Name and practice of the referring clinician; leave empty for a letter "
        "addressed to the referring clinician.",
    )


class ConsentRecordForm(forms.Form):
    signed_name = forms.CharField(max_length=200, label="Patient's full name, typed by the patient")
    understood = forms.BooleanField(
        label="The patient has read the form, had their questions answered, and accepts."
    )


class ConsentWithdrawForm(forms.Form):
    reason = forms.CharField(max_length=300)
