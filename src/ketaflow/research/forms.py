"""The research export's form: which file formats (checkboxes, no script needed)."""

from __future__ import annotations

from django import forms

from ketaflow.research.files import Format

FORMAT_CHOICES = [
    (Format.CSV.value, "CSV (one file per table)"),
    (Format.PARQUET.value, "Parquet (one file per table, typed columns)"),
]


class ExportForm(forms.Form):
    formats = forms.MultipleChoiceField(
        label="Formats",
        choices=FORMAT_CHOICES,
        initial=[Format.CSV.value, Format.PARQUET.value],
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "Formats: choose CSV, Parquet or both."},
    )

    def chosen(self) -> tuple[Format, ...]:
        return tuple(Format(value) for value in self.cleaned_data["formats"])
