from __future__ import annotations

import datetime as dt
from typing import Any, cast

from django import forms
from django.db.models import QuerySet

from ketaflow.accounts.models import Clinic, User
from ketaflow.accounts.roles import Perm
from ketaflow.clinical import DRUG_LIBRARY, WeightBasis
from ketaflow.clinical.common import choices
from ketaflow.treatment.models import Chair, Course
from ketaflow.treatment.services import LIBRARY_KEYS
from ketaflow.web.forms import weight_in_kg, weight_unit_field


class DateInput(forms.DateInput):
    input_type = "date"


class TimeInput(forms.TimeInput):
    input_type = "time"


def _library_choices() -> list[tuple[str, str]]:
    choices = []
    for key, indication in LIBRARY_KEYS.items():
        entry = DRUG_LIBRARY[indication]
        choices.append(
            (
                key,
                f"{entry.drug} for {indication.label} (default "
                f"{entry.default_dose_mg_per_kg:g} mg/kg over {entry.default_duration_min:g} min)",
            )
        )
    return choices


class CoursePlanForm(forms.Form):
    drug_library_key = forms.ChoiceField(label="Protocol (drug library)", choices=_library_choices)
    kind = forms.ChoiceField(choices=Course.Kind.choices, initial=Course.Kind.INDUCTION)
    dose_mg_per_kg = forms.DecimalField(
        label="Dose (mg/kg)", max_digits=5, decimal_places=3, min_value=0
    )
    duration_min = forms.DecimalField(
        label="Infusion duration (min)", max_digits=5, decimal_places=1, min_value=0
    )
    weight_basis = forms.ChoiceField(
        choices=choices(WeightBasis), initial=Course.WeightBasis.ACTUAL
    )
    weight_kg = forms.DecimalField(
        label="Weight",
        max_digits=5,
        decimal_places=1,
        min_value=0,
        help_text="The latest weight, in the unit chosen below (stored in kg); each infusion "
        "doses on the weight of the day.",
    )
    weight_unit = weight_unit_field()

    def clean(self) -> dict[str, Any]:
        data: dict[str, Any] = super().clean() or {}
        weight_in_kg(self, data)
        data.pop("weight_entered", None)  # the form shows the conversion; kg is what is kept
        return data

    height_cm = forms.DecimalField(
        label="Height (cm)",
        max_digits=4,
        decimal_places=1,
        min_value=0,
        required=False,
        help_text="Needed for ideal or adjusted body weight.",
    )
    pattern = forms.ChoiceField(choices=Course.Pattern.choices)
    infusions_planned = forms.IntegerField(label="Number of infusions", min_value=1, max_value=24)
    start_on = forms.DateField(
        label="First infusion on or after", widget=DateInput(format="%Y-%m-%d")
    )
    notes = forms.CharField(max_length=300, required=False)

    def indication(self) -> str:
        return LIBRARY_KEYS[self.cleaned_data["drug_library_key"]].value


def plan_initial(*, intake: dict[str, Any], start_on: dt.date, indication: str) -> dict[str, Any]:
    """The form's starting values: the drug library defaults, six infusions three a week, and
    the weight and height from the signed intake when it has them."""
    key = next((k for k, v in LIBRARY_KEYS.items() if v.value == indication), "ketamine-ptsd")
    entry = DRUG_LIBRARY[LIBRARY_KEYS[key]]
    initial: dict[str, Any] = {
        "drug_library_key": key,
        "kind": Course.Kind.INDUCTION,
        "dose_mg_per_kg": entry.default_dose_mg_per_kg,
        "duration_min": entry.default_duration_min,
        "weight_basis": Course.WeightBasis.ACTUAL,
        "pattern": Course.Pattern.THREE_A_WEEK,
        "infusions_planned": 6,  # Feder 2021; Murrough 2013; Albott 2018: six infusions
        "start_on": start_on,
    }
    for field in ("weight_kg", "height_cm"):
        value = intake.get(field)
        if isinstance(value, int | float) and not isinstance(value, bool):
            initial[field] = value
    return initial


def nurses_of(clinic: Clinic) -> QuerySet[User]:
    """Staff of ``clinic`` who may run an infusion (by permission, not by role name)."""
    staff = User.objects.filter(clinic=clinic, is_active=True).order_by("last_name", "username")
    return staff.filter(pk__in=[u.pk for u in staff if u.may(Perm.ADMINISTER)])


class NurseChoiceField(forms.ModelChoiceField[User]):
    def label_from_instance(self, obj: User) -> str:
        return str(obj)


class BookForm(forms.Form):
    """One row per infusion still to book (date, time, chair, nurse), and defaults for all."""

    time_of_day = forms.TimeField(
        label="Time of day", widget=TimeInput(format="%H:%M"), initial=dt.time(9, 0)
    )
    nurse = NurseChoiceField(
        queryset=User.objects.none(), required=False, empty_label="No nurse yet"
    )

    def __init__(
        self,
        data: Any,
        *,
        rows: list[tuple[int, dt.date]],
        chairs: QuerySet[Chair],
        nurses: QuerySet[User],
    ) -> None:
        super().__init__(data)
        self.sequences = [seq for seq, _ in rows]
        cast(NurseChoiceField, self.fields["nurse"]).queryset = nurses
        for seq, on in rows:
            self.fields[f"date_{seq}"] = forms.DateField(
                label=f"Infusion {seq} date", initial=on, widget=DateInput(format="%Y-%m-%d")
            )
            self.fields[f"time_{seq}"] = forms.TimeField(
                label=f"Infusion {seq} time",
                required=False,
                widget=TimeInput(format="%H:%M"),
                help_text="Blank: the time of day above.",
            )
            self.fields[f"chair_{seq}"] = forms.ModelChoiceField(
                label=f"Infusion {seq} chair",
                queryset=chairs,
                required=False,
                empty_label="First free chair",
            )
            self.fields[f"nurse_{seq}"] = NurseChoiceField(
                label=f"Infusion {seq} nurse",
                queryset=nurses,
                required=False,
                empty_label="As above",
            )

    def rows(self) -> list[dict[str, Any]]:
        return [
            {
                "sequence": seq,
                "date": self[f"date_{seq}"],
                "time": self[f"time_{seq}"],
                "chair": self[f"chair_{seq}"],
                "nurse": self[f"nurse_{seq}"],
            }
            for seq in self.sequences
        ]


class RescheduleForm(forms.Form):
    on = forms.DateField(label="Date", widget=DateInput(format="%Y-%m-%d"))
    at = forms.TimeField(label="Time", widget=TimeInput(format="%H:%M"))
    chair = forms.ModelChoiceField(queryset=Chair.objects.none())
    nurse = NurseChoiceField(queryset=User.objects.none(), required=False, empty_label="No nurse")
    reason = forms.CharField(max_length=300, help_text="Why the appointment is moved.")

    def __init__(
        self,
        data: Any,
        *,
        chairs: QuerySet[Chair],
        nurses: QuerySet[User],
        initial: dict[str, Any],
    ) -> None:
        super().__init__(data, initial=initial)
        cast(forms.ModelChoiceField[Chair], self.fields["chair"]).queryset = chairs
        cast(NurseChoiceField, self.fields["nurse"]).queryset = nurses


class CancelForm(forms.Form):
    reason = forms.CharField(max_length=300, help_text="Why the appointment is cancelled.")


class BoardDayForm(forms.Form):
    day = forms.DateField(required=False, widget=DateInput(format="%Y-%m-%d"))
