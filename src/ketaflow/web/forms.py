"""Form helpers shared by every app's views."""

from __future__ import annotations

from collections.abc import Mapping

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError


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
