"""Forms of the outcome pages (dates and times as HTML5 inputs: no script needed)."""

from __future__ import annotations

from django import forms

from ketaflow.outcomes.dashboard import INDICATIONS


class DateInput(forms.DateInput):
    input_type = "date"


class TimeInput(forms.TimeInput):
    input_type = "time"


class AcceptForm(forms.Form):
    on = forms.DateField(label="Booster day", widget=DateInput)
    at = forms.TimeField(label="Time", widget=TimeInput)


class DeclineForm(forms.Form):
    reason = forms.CharField(
        label="Reason for declining", max_length=500, widget=forms.Textarea(attrs={"rows": 2})
    )


class DashboardFilterForm(forms.Form):
    indication = forms.ChoiceField(choices=[("", "All indications"), *INDICATIONS], required=False)
    start = forms.DateField(label="Courses from", required=False, widget=DateInput)
    end = forms.DateField(label="to", required=False, widget=DateInput)

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        start, end = data.get("start"), data.get("end")
        if start and end and start > end:
            raise forms.ValidationError("The period's start is after its end.")
        return data
