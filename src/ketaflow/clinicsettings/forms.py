"""The form of one clinical setting: its value (blank turns an optional rule off)."""

from __future__ import annotations

from typing import Any

from django import forms

from ketaflow.clinical.clinic_settings import ClinicSettingError, SettingSpec
from ketaflow.clinicsettings.selectors import anchor_for


class SettingForm(forms.Form):
    value = forms.CharField(
        required=False,
        max_length=20,
        strip=True,
        widget=forms.TextInput(attrs={"inputmode": "decimal"}),
    )
    action = forms.ChoiceField(choices=[("save", "Save"), ("sign", "Save and sign")])

    def __init__(self, *args: Any, spec: SettingSpec, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", anchor_for(spec.key) + "-%s")
        super().__init__(*args, **kwargs)
        self.spec = spec
        field = self.fields["value"]
        # The page heads the card with the setting's name; the field says what to type.
        field.label = f"New value ({spec.unit or 'factor'})"
        self.allowed = f"{spec.minimum:g}-{spec.maximum:g} {spec.unit}".strip() + (
            "; leave blank to turn this rule off" if spec.may_be_off else ""
        )
        field.help_text = f"Allowed: {self.allowed}"

    def clean_value(self) -> float | None:
        text: str = self.cleaned_data["value"]
        if not text:
            value: float | None = None
        else:
            try:
                value = float(text.replace(",", "."))
            except ValueError:
                raise forms.ValidationError(
                    f"{self.spec.label}: {text!r} is not a number"
                ) from None
        try:
            return self.spec.check(value)
        except ClinicSettingError as exc:
            raise forms.ValidationError(str(exc)) from None
