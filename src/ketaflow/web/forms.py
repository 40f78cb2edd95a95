"""Form helpers shared by every app's views."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.forms.renderers import DjangoTemplates
from django.http import HttpRequest

from ketaflow.clinical.dosing import WEIGHT_KG_RANGE, pounds_to_kg
from ketaflow.web import widget_markup


class FormRenderer(DjangoTemplates):
    """The project's form renderer (settings.FORM_RENDERER): Django's own, with one template
    for a field's label, input, help and errors (``web/field.html``, used by
    ``{{ field.as_field_group }}``) whose help and error elements carry the ids Django's
    ``aria-describedby`` names.

    Django's built-in widget templates (inputs, selects, textareas, radios, checkboxes) are
    built in Python by ``widget_markup`` (the same string, about a tenth of the time), and so is
    ``web/field.html`` itself; any other template, or a context it does not recognise, is
    rendered by the template."""

    field_template_name = "web/field.html"

    def render(
        self, template_name: str, context: dict[str, Any], request: HttpRequest | None = None
    ) -> str:
        markup = widget_markup.render(template_name, context)
        if markup is None:
            markup = widget_markup.render_field_group(template_name, context)
        if markup is not None:
            return markup
        return str(super().render(template_name, context, request))


WEIGHT_HELP = "In the unit chosen below; stored in kg to 0.1 kg and shown in both."


def weight_unit_field() -> forms.ChoiceField:
    """The unit a weight is typed in (blank = kg, so older clients keep working)."""
    return forms.ChoiceField(
        choices=[("kg", "kg"), ("lb", "lb (pounds)")],
        initial="kg",
        required=False,
        label="Weight unit",
    )


def weight_in_kg(form: forms.Form, data: dict[str, Any], field: str = "weight_kg") -> None:
    """Turn ``data[field]``, typed in ``data["weight_unit"]`` (removed from ``data``), into kg
    (to 0.1 kg, the stored resolution), note a weight typed in pounds in
    ``data["weight_entered"]`` and refuse a weight outside the dosing module's entry guard,
    naming the field."""
    unit = data.pop("weight_unit", "")
    weight = data.get(field)
    if weight is None:
        return
    if unit == "lb":
        try:
            kg = pounds_to_kg(float(weight))
        except ValueError as exc:
            form.add_error(field, str(exc))
            return
        data[field] = Decimal(str(round(kg, 1)))
        data["weight_entered"] = f"{weight} lb = {kg:.2f} kg"
    low, high = WEIGHT_KG_RANGE
    if not low <= float(data[field]) <= high:
        form.add_error(
            field, f"{data[field]} kg is outside the plausible range {low:g}-{high:g} kg"
        )


def apply_validation_error(
    form: forms.BaseForm, exc: ValidationError, *, prefixes: Mapping[str, str] | None = None
) -> None:
    """Show a service's refusal on ``form``: on the field it names when the form has that
    field, otherwise at the top of the form, still naming the field (``prefixes`` can give
    a field's words there, e.g. ``{"version": "Form out of date"}``)."""
    if not hasattr(exc, "error_dict"):
        for message in exc.messages:
            form.add_error(None, message)
        return
    for field, messages in exc.message_dict.items():
        for message in messages:
            if field in form.fields:
                form.add_error(field, message)
            elif field == NON_FIELD_ERRORS:
                form.add_error(None, message)
            else:
                words = (prefixes or {}).get(field, field.replace("_", " "))
                form.add_error(None, f"{words}: {message}")
