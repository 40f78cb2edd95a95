from __future__ import annotations

from typing import Any

from django import forms

from ketaflow.portal.models import UrgentTask
from ketaflow.portal.questionnaires import Questionnaire


class CodeField(forms.CharField):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            label="6-digit code from your authenticator app",
            min_length=6,
            max_length=7,
            widget=forms.TextInput(
                attrs={
                    "inputmode": "numeric",
                    "autocomplete": "one-time-code",
                    "pattern": "[0-9 ]*",
                }
            ),
            **kwargs,
        )


class JoinForm(forms.Form):
    password1 = forms.CharField(
        label="Choose a password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text="At least 12 characters; not a common password and not only digits.",
    )
    password2 = forms.CharField(
        label="The same password again",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    code = CodeField()

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("password1") and data.get("password1") != data.get("password2"):
            self.add_error("password2", "The two passwords differ.")
        return data


class VerifyForm(forms.Form):
    code = CodeField()


class QuestionnaireForm(forms.Form):
    comment = forms.CharField(
        label="Anything you want your care team to know (optional)",
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def __init__(self, questionnaire: Questionnaire, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.questionnaire = questionnaire
        items: dict[str, forms.Field] = {}
        for number, text in enumerate(questionnaire.items, start=1):
            items[f"item_{number}"] = forms.TypedChoiceField(
                label=f"{number}. {text}",
                choices=questionnaire.choices,
                coerce=int,
                widget=forms.RadioSelect,
                error_messages={"required": "Choose an answer."},
            )
        comment = self.fields.pop("comment")
        self.fields.update(items)
        self.fields["comment"] = comment

    def item_fields(self) -> list[forms.BoundField]:
        return [self[f"item_{n}"] for n in range(1, len(self.questionnaire.items) + 1)]

    def answers(self) -> list[int]:
        return [
            int(self.cleaned_data[f"item_{n}"]) for n in range(1, len(self.questionnaire.items) + 1)
        ]


class AcknowledgeForm(forms.Form):
    action_taken = forms.ChoiceField(label="Action taken", choices=UrgentTask.Action.choices)
    note = forms.CharField(
        label="What was done, and the plan",
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 4}),
    )
