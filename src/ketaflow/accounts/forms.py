"""Forms of the sign-in pages: the second-factor code, enrolment, re-authentication."""

from __future__ import annotations

from django import forms
from django.contrib.auth.forms import AuthenticationForm


class SignInForm(AuthenticationForm):
    """The login page's form: Django's, with one sentence for any refusal (it does not say
    which of the two was wrong)."""

    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": "Your username and password did not match. Please try again.",
    }


class StaffCodeForm(forms.Form):
    code = forms.CharField(
        label="6-digit code from your authenticator app, or a recovery code",
        min_length=6,
        max_length=20,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "autofocus": True}),
    )


class EnrolForm(forms.Form):
    code = forms.CharField(
        label="6-digit code the app shows now",
        min_length=6,
        max_length=7,
        widget=forms.TextInput(
            attrs={"inputmode": "numeric", "autocomplete": "one-time-code", "pattern": "[0-9 ]*"}
        ),
    )


class ReauthForm(forms.Form):
    """Re-authentication before changing a factor: the password and a current code."""

    ACTIONS = [
        ("replace", "Replace my authenticator app"),
        ("codes", "Issue new recovery codes"),
    ]
    action = forms.ChoiceField(label="What to change", choices=ACTIONS)
    password = forms.CharField(
        label="Your password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
    code = forms.CharField(
        label="A code from your authenticator app, or a recovery code",
        min_length=6,
        max_length=20,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code"}),
    )
