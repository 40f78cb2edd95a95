"""The patient portal: invitations, the second factor, the measurement plan's due
questionnaires, urgent safety tasks and the email outbox.

Numbers that are clinic settings live in :class:`PortalSettings` with their sources; an unsaved
default row is used for a clinic that has none (``ketaflow.portal.config.portal_settings``).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from ketaflow.accounts.models import Clinic
from ketaflow.assessments.models import InstrumentResponse
from ketaflow.clinical import Instrument
from ketaflow.clinical.common import choices
from ketaflow.patients.models import Patient
from ketaflow.treatment.models import Course

# Terms that send a portal comment to a clinician (clinic setting; default: suicide and
# self-harm wording). Matched case-insensitively as whole words or phrases.
DEFAULT_REVIEW_TERMS: tuple[str, ...] = (
    "suicide",
    "suicidal",
    "kill myself",
    "killing myself",
    "end my life",
    "ending my life",
    "take my life",
    "better off dead",
    "want to die",
    "wish I was dead",
    "wish I were dead",
    "self-harm",
    "self harm",
    "hurt myself",
    "hurting myself",
    "harm myself",
    "cut myself",
    "cutting myself",
    "overdose",
    "no reason to live",
)

# US crisis resources (988 Suicide and Crisis Lifeline, SAMHSA: call or text 988; 911 for
# immediate danger). A clinic outside the US replaces the text.
DEFAULT_CRISIS_TEXT = (
    "If you are thinking about suicide or harming yourself, or are in crisis, call or text 988 "
    "(the 988 Suicide and Crisis Lifeline, free, 24 hours a day). "
    "If you are in immediate danger, call 911 or go to the nearest emergency department."
)

# Measurement plan per indication (clinical.md s. 5): PCL-5 for PTSD, PHQ-9 and GAD-7 for
# depression; PHQ-9 in both, because its item 9 screens for suicidal thoughts.
DEFAULT_PLAN_INSTRUMENTS: dict[str, list[str]] = {
    "ptsd": ["pcl5", "phq9"],
    "depression": ["phq9", "gad7"],
}


def default_review_terms() -> list[str]:
    return list(DEFAULT_REVIEW_TERMS)


def default_plan_instruments() -> dict[str, list[str]]:
    return {k: list(v) for k, v in DEFAULT_PLAN_INSTRUMENTS.items()}


class PortalSettings(models.Model):
    """A clinic's portal and measurement-plan settings."""

    clinic = models.OneToOneField(Clinic, on_delete=models.CASCADE, related_name="portal_settings")
    invitation_hours = models.PositiveSmallIntegerField(
        default=72,
        validators=[MinValueValidator(1), MaxValueValidator(24 * 14)],
        help_text="How long an invitation link stays valid (hours).",
    )
    plan_instruments = models.JSONField(
        default=default_plan_instruments,
        help_text='Instruments per course indication, e.g. {"ptsd": ["pcl5", "phq9"]}.',
    )
    before_each_infusion = models.BooleanField(default=True)
    pre_infusion_open_hours = models.PositiveSmallIntegerField(
        default=48,
        validators=[MinValueValidator(1), MaxValueValidator(24 * 7)],
        help_text="A pre-infusion questionnaire opens this many hours before the infusion.",
    )
    after_first_hours = models.PositiveSmallIntegerField(
        default=24, help_text="Hours after the first infusion (clinical.md s. 6: 24 h response)."
    )
    after_last_hours = models.PositiveSmallIntegerField(
        default=24, help_text="Hours after the last infusion of the course."
    )
    post_window_hours = models.PositiveSmallIntegerField(
        default=24,
        validators=[MinValueValidator(1)],
        help_text="How long a 24-hour questionnaire stays open.",
    )
    follow_up_months = models.PositiveSmallIntegerField(
        default=3,
        validators=[MaxValueValidator(24)],
        help_text="Weekly questionnaires for this many months after the course (0: none).",
    )
    review_terms = models.JSONField(
        default=default_review_terms,
        help_text="Words or phrases in a portal comment that create an urgent task.",
    )
    crisis_text = models.TextField(default=DEFAULT_CRISIS_TEXT)

    class Meta:
        verbose_name_plural = "portal settings"

    def __str__(self) -> str:
        return f"Portal settings of {self.clinic}"


class Invitation(models.Model):
    """A single-use, expiring link that lets a patient set a password and a second factor.
    Only the SHA-256 of the token is stored."""

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="invitations")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    token_hash = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Invitation #{self.pk} for patient {self.patient_id}"


class TotpDevice(models.Model):
    """A patient's authenticator app (RFC 6238 TOTP, 30-second steps, 6 digits)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="totp_device"
    )
    secret = models.CharField(max_length=64)
    confirmed_at = models.DateTimeField()
    last_step = models.BigIntegerField(
        default=0, help_text="The last accepted time step: a code is accepted once."
    )

    def __str__(self) -> str:
        return f"TOTP device of user {self.user_id}"


class DueQuestionnaire(models.Model):
    """One questionnaire the measurement plan asks of a patient at one time point."""

    class Status(models.TextChoices):
        DUE = "due", "Due"
        ANSWERED = "answered", "Answered"
        EXPIRED = "expired", "Expired"

    patient = models.ForeignKey(
        Patient, on_delete=models.CASCADE, related_name="due_questionnaires"
    )
    course = models.ForeignKey(
        Course, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    instrument = models.CharField(max_length=16, choices=choices(Instrument))
    timepoint = models.CharField(
        max_length=32, help_text="pre-1, post-first, post-last, week-3, ... (unique per course)"
    )
    label = models.CharField(max_length=80)
    due_at = models.DateTimeField(help_text="When it opens.")
    window_ends_at = models.DateTimeField(help_text="When it closes (expires if unanswered).")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DUE)
    reminders_sent = models.PositiveSmallIntegerField(default=0)
    last_reminded_at = models.DateTimeField(null=True, blank=True)
    response = models.ForeignKey(
        InstrumentResponse, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["due_at", "instrument"]
        constraints = [
            models.UniqueConstraint(
                fields=["course", "timepoint", "instrument"], name="due_unique_per_course"
            ),
            models.CheckConstraint(
                condition=models.Q(window_ends_at__gt=models.F("due_at")), name="due_window_order"
            ),
        ]
        indexes = [models.Index(fields=["status", "due_at"], name="due_status_at")]

    def __str__(self) -> str:
        return f"{self.get_instrument_display()} {self.label} due {self.due_at:%Y-%m-%d %H:%M}"


class ResponseComment(models.Model):
    """A patient's optional free text with a portal questionnaire."""

    response = models.OneToOneField(
        InstrumentResponse, on_delete=models.CASCADE, related_name="portal_comment"
    )
    text = models.TextField(max_length=2000)
    matched_terms = models.JSONField(default=list, blank=True)

    def __str__(self) -> str:
        return f"Comment on response {self.response_id}"


class UrgentTask(models.Model):
    """A safety flag for the patient's clinicians, created in the same transaction as the answer
    that raised it, shown on every staff page of the clinic until acknowledged."""

    class Action(models.TextChoices):
        CALLED_PATIENT = "called_patient", "Called the patient; risk assessed"
        SEEN_IN_CLINIC = "seen_in_clinic", "Assessed in clinic"
        EMERGENCY_SERVICES = "emergency", "Contacted emergency services"
        REFERRED = "referred", "Referred for urgent psychiatric care"
        NO_CONTACT = "no_contact", "Could not reach the patient; escalated"
        OTHER = "other", "Other (describe)"

    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="urgent_tasks")
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="urgent_tasks")
    response = models.ForeignKey(
        InstrumentResponse, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    reasons = models.JSONField(default=list, help_text="Why the task was raised, one per line.")
    created_at = models.DateTimeField(auto_now_add=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    action_taken = models.CharField(max_length=24, choices=Action.choices, blank=True)
    action_note = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["clinic", "acknowledged_at"], name="urgent_open")]

    def __str__(self) -> str:
        return f"Urgent task #{self.pk} for patient {self.patient_id}"

    @property
    def is_open(self) -> bool:
        return self.acknowledged_at is None


class EmailOutbox(models.Model):
    """An email to send, written in the same transaction as what it tells about; the worker
    sends it and retries failures with backoff. Bodies never carry patient data."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENT = "sent", "Sent"

    class Kind(models.TextChoices):
        REMINDER = "reminder", "Questionnaire reminder"
        URGENT = "urgent", "Urgent task notification"
        INVITATION = "invitation", "Portal invitation"

    kind = models.CharField(max_length=16, choices=Kind.choices)
    to = models.EmailField()
    subject = models.CharField(max_length=200)
    body = models.TextField()
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    last_error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at"]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="outbox_pending")]

    def __str__(self) -> str:
        return f"{self.kind} email #{self.pk} ({self.status})"

    def as_dict(self) -> dict[str, Any]:
        return {"to": self.to, "subject": self.subject, "status": self.status}
