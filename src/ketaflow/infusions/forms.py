"""Forms of the session page. They only parse; every rule is checked by the services."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from django import forms

from ketaflow.clinical import EndOrganSymptom, Indication, WeightBasis
from ketaflow.clinical.common import choices
from ketaflow.infusions.models import InfusionEvent, InfusionSession, PrescriberDecision, SideEffect
from ketaflow.web.forms import WEIGHT_HELP, weight_in_kg, weight_unit_field

DATETIME_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"]


class DateInput(forms.DateInput):
    input_type = "date"


class DateTimeInput(forms.DateTimeInput):
    input_type = "datetime-local"


def _uuid_field() -> forms.UUIDField:
    # A fresh identifier per rendered form: a resubmitted form (double tap, retry after a dropped
    # connection) carries the same one and is stored once.
    return forms.UUIDField(widget=forms.HiddenInput, initial=uuid.uuid4)


def _entered_at_field() -> forms.DateTimeField:
    # Set by session.js to the device's clock (ISO 8601 with zone) when the entry is made, so an
    # entry sent later from the offline queue keeps its time.
    return forms.DateTimeField(required=False, widget=forms.HiddenInput)


class VersionedForm(forms.Form):
    version = forms.IntegerField(widget=forms.HiddenInput)


class ChecklistForm(VersionedForm):
    fasting_confirmed = forms.BooleanField(
        required=False, label="Fasting confirmed (per clinic fasting rule)"
    )
    escort_confirmed = forms.BooleanField(
        required=False, label="Escort home confirmed (adult, reachable)"
    )
    pregnancy_test = forms.ChoiceField(
        choices=InfusionSession.PregnancyTest.choices, required=False, label="Pregnancy test"
    )
    weight_kg = forms.DecimalField(
        required=False,
        max_digits=5,
        decimal_places=1,
        label="Weight",
        help_text=WEIGHT_HELP,
    )
    weight_unit = weight_unit_field()
    weight_change_confirmed = forms.BooleanField(
        required=False,
        label="Re-weighed: this weight is right although it differs from the last one",
    )
    weight_measured_on = forms.DateField(
        required=False, widget=DateInput(format="%Y-%m-%d"), label="Weight measured on"
    )
    height_cm = forms.DecimalField(
        required=False, max_digits=4, decimal_places=1, label="Height (cm)"
    )

    def clean(self) -> dict[str, Any]:
        data: dict[str, Any] = super().clean() or {}
        weight_in_kg(self, data)
        return data


class DoseForm(VersionedForm):
    indication = forms.ChoiceField(choices=choices(Indication))
    weight_basis = forms.ChoiceField(choices=choices(WeightBasis))
    dose_mg_per_kg = forms.DecimalField(max_digits=5, decimal_places=3, label="Dose (mg/kg)")
    vial_concentration_mg_per_ml = forms.DecimalField(
        max_digits=6, decimal_places=2, label="Vial concentration (mg/mL)"
    )
    final_volume_ml = forms.DecimalField(
        max_digits=6, decimal_places=1, label="Final volume in the bag (mL)"
    )
    duration_min = forms.DecimalField(max_digits=5, decimal_places=1, label="Duration (min)")
    override_reason = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        label="Override reason (only to exceed a soft limit; prescriber or medical director)",
    )


class VialForm(VersionedForm):
    """The vial from the clinic's stock (the page sets the choices; the service checks the
    pick), the volume drawn, and after the start why the vial is corrected."""

    vial = forms.IntegerField(widget=forms.Select, label="Vial from stock")
    drawn_volume_ml = forms.DecimalField(max_digits=6, decimal_places=2, label="Drawn volume (mL)")
    reason = forms.CharField(
        max_length=300, required=False, label="Why the vial is corrected (after the start)"
    )

    def offer(self, choices: list[tuple[int | str, str]]) -> VialForm:
        self.fields["vial"].widget.choices = [("", "Pick a vial"), *choices]
        return self


class WasteForm(forms.Form):
    """The remainder of the session's draw wasted: the witness signs with their own password."""

    witness_username = forms.CharField(max_length=150, label="Witness username")
    witness_password = forms.CharField(
        widget=forms.PasswordInput(attrs={"autocomplete": "off"}), label="Witness password"
    )
    reason = forms.CharField(max_length=300, label="Reason")


class EventForm(forms.Form):
    kind = forms.ChoiceField(
        choices=[(k, k) for k in ("start", "rate_change", "pause", "resume", "stop", "complete")],
        widget=forms.HiddenInput,
    )
    client_uuid = _uuid_field()
    entered_at = _entered_at_field()
    rate_ml_per_h = forms.DecimalField(
        required=False, max_digits=7, decimal_places=2, label="Pump rate (mL/h)"
    )
    note = forms.CharField(required=False, max_length=300)
    reason = forms.ChoiceField(choices=InfusionEvent.Reason.choices, required=False, label="Reason")
    confirm_early_stop = forms.BooleanField(
        required=False, label="Confirm: stop before the planned dose has been given"
    )


SYMPTOM_CHOICES = [(s.value, s.label) for s in EndOrganSymptom]


class VitalsForm(forms.Form):
    # The same choices and labels on every request: an unbound form's field groups are written
    # once per process (ketaflow.web.widget_markup).
    field_groups_kept = True

    client_uuid = _uuid_field()
    entered_at = _entered_at_field()
    systolic_mmhg = forms.IntegerField(label="Systolic (mmHg)")
    diastolic_mmhg = forms.IntegerField(label="Diastolic (mmHg)")
    heart_rate_bpm = forms.IntegerField(label="Heart rate (/min)")
    spo2_percent = forms.IntegerField(label="SpO2 (%)")
    respiratory_rate_per_min = forms.IntegerField(required=False, label="Resp. rate (/min)")
    symptoms = forms.MultipleChoiceField(
        choices=SYMPTOM_CHOICES,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="End-organ symptoms",
    )
    measured_at = forms.DateTimeField(
        required=False,
        input_formats=DATETIME_FORMATS,
        widget=DateTimeInput(format="%Y-%m-%dT%H:%M"),
        label="Measured at (if not now)",
    )


class CorrectionForm(VitalsForm):
    corrects = forms.IntegerField(widget=forms.HiddenInput)
    measured_at = forms.DateTimeField(
        required=False,
        input_formats=DATETIME_FORMATS,
        widget=DateTimeInput(format="%Y-%m-%dT%H:%M:%S", attrs={"step": "1"}),
        label="Measured at (to the second)",
    )
    correction_reason = forms.CharField(max_length=300, label="Reason for the correction")


class ScreeningForm(forms.Form):
    instrument = forms.ChoiceField(
        choices=[("pcl5", "PCL-5"), ("phq9", "PHQ-9"), ("cssrs", "C-SSRS screener")]
    )
    answers = forms.CharField(
        max_length=400,
        label="Answers in item order",
        help_text="PCL-5: 20 ratings 0-4; PHQ-9: 9 ratings 0-3; C-SSRS: 6 answers y/n; "
        "separated by commas.",
    )


class CadssForm(forms.Form):
    # The same choices and labels on every request: an unbound form's field groups are written
    # once per process (ketaflow.web.widget_markup).
    field_groups_kept = True

    answers = forms.CharField(
        max_length=400, label="CADSS answers", help_text="23 ratings 0-4, separated by commas."
    )


ALDRETE_ITEMS = [
    ("activity", "Activity"),
    ("respiration", "Respiration"),
    ("circulation", "Circulation (BP within 15% of baseline = 2)"),
    ("consciousness", "Consciousness"),
    ("oxygen_saturation", "Oxygen saturation (> 92% on room air = 2)"),
]


class AldreteForm(forms.Form):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, label in ALDRETE_ITEMS:
            self.fields[name] = forms.TypedChoiceField(
                choices=[("", "—"), ("0", "0"), ("1", "1"), ("2", "2")],
                coerce=int,
                label=label,
            )


class RiskAcknowledgeForm(forms.Form):
    note = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), label="Prescriber's assessment"
    )


class SideEffectForm(forms.Form):
    # The same choices and labels on every request: an unbound form's field groups are written
    # once per process (ketaflow.web.widget_markup).
    field_groups_kept = True

    client_uuid = _uuid_field()
    entered_at = _entered_at_field()
    kind = forms.ChoiceField(choices=SideEffect.Kind.choices, label="Side effect")
    other_description = forms.CharField(required=False, max_length=120, label="If other: what")
    severity = forms.ChoiceField(choices=SideEffect.Severity.choices)
    medication = forms.CharField(required=False, max_length=100, label="Treatment: medication")
    dose_amount = forms.DecimalField(
        required=False, max_digits=8, decimal_places=3, min_value=Decimal(0), label="Dose"
    )
    dose_unit = forms.CharField(required=False, max_length=16, label="Unit")
    route = forms.ChoiceField(choices=SideEffect.Route.choices, required=False)
    note = forms.CharField(required=False, max_length=300)


class DischargeForm(VersionedForm):
    escort_present = forms.BooleanField(
        required=False, label="Escort present to take the patient home"
    )
    instructions_given = forms.BooleanField(
        required=False, label="Written discharge instructions given (no driving until the next day)"
    )


class SignForm(forms.Form):
    confirm = forms.BooleanField(label="I confirm this infusion record is complete and correct")


class AddendumForm(forms.Form):
    client_uuid = _uuid_field()
    text = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), label="Addendum")


class BaselineOverrideForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}),
        label="Prescriber's reason to start over this baseline",
    )


class DecisionForm(forms.Form):
    client_uuid = _uuid_field()
    decision = forms.ChoiceField(
        choices=PrescriberDecision.Decision.choices, label="Prescriber's decision"
    )
    note = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), label="What you assessed and decided"
    )


class CosignForm(forms.Form):
    confirm = forms.BooleanField(
        label="I have reviewed this infusion record, its readings and overrides, and co-sign it"
    )
