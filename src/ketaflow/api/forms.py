from __future__ import annotations

from typing import Any

from django import forms

from ketaflow.accounts.models import User
from ketaflow.api.scopes import DEFAULT_DAYS, MAX_DAYS, scopes_for_role


class TokenForm(forms.Form):
    name = forms.CharField(
        max_length=100, help_text="What the token is for, e.g. referral letters."
    )
    scopes = forms.MultipleChoiceField(widget=forms.CheckboxSelectMultiple, choices=[])
    days = forms.IntegerField(
        label="Days until it expires", min_value=1, max_value=MAX_DAYS, initial=DEFAULT_DAYS
    )

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        scopes_field = self.fields["scopes"]
        if isinstance(scopes_field, forms.MultipleChoiceField):
            scopes_field.choices = [(s.key, s.label) for s in scopes_for_role(user.role)]
