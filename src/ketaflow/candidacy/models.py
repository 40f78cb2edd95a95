"""Candidacy: the intake, the eligibility decision from ``ketaflow.clinical``, its sign-off by a
prescriber; and informed consent to off-label ketamine treatment."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from ketaflow.accounts.clinictime import clinic_local
from ketaflow.accounts.models import Clinic
from ketaflow.clinical import Decision as ClinicalDecision
from ketaflow.clinical.common import choices
from ketaflow.patients.models import Patient


class CandidacyAssessment(models.Model):
    """One assessment of one intake. Immutable once signed; a new intake is a new assessment."""

    # Defined once, in ketaflow.clinical; the field choices are built from it.
    Decision = ClinicalDecision

    class Status(models.TextChoices):
        ASSESSED = "assessed", "Assessed, awaiting sign-off"
        SIGNED = "signed", "Signed"
        DECLINED = "declined", "Not a candidate"
        SUPERSEDED = "superseded", "Superseded"

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="candidacies")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    intake = models.JSONField(help_text="The structured intake, as ketaflow.clinical reads it.")
    decision = models.CharField(max_length=16, choices=choices(ClinicalDecision))
    indications = models.JSONField(default=list)
    findings = models.JSONField(default=list, help_text="tier, rule id, message and source")
    resistance = models.JSONField(default=list)
    summary = models.CharField(max_length=500)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ASSESSED)
    review_note = models.TextField(
        blank=True, help_text="The prescriber's written review of every caution."
    )
    signed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    signed_at = models.DateTimeField(null=True, blank=True)
    decline_reason = models.TextField(
        blank=True, help_text="Why the prescriber decided the patient is not a candidate."
    )
    referrer = models.CharField(
        max_length=300, blank=True, help_text="Who referred the patient: the letter's addressee."
    )

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(status="signed")
                | (models.Q(signed_by__isnull=False) & models.Q(signed_at__isnull=False)),
                name="candidacy_signed_has_signer",
            ),
            models.CheckConstraint(
                condition=~models.Q(status="signed", decision="not_eligible"),
                name="candidacy_hard_stop_never_signed",
            ),
            models.CheckConstraint(
                condition=~models.Q(status="declined")
                | (
                    models.Q(signed_by__isnull=False)
                    & models.Q(signed_at__isnull=False)
                    & ~models.Q(decline_reason="")
                ),
                name="candidacy_declined_has_reason",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.patient}: {self.get_decision_display()} ({self.get_status_display()})"

    @property
    def heading(self) -> str:
        """The page's heading, following the decision: what was decided once it is signed."""
        if self.status == self.Status.DECLINED:
            return "Not a candidate"
        if self.status == self.Status.SIGNED:
            return (
                "Candidate: cautions reviewed"
                if self.decision == self.Decision.NEEDS_REVIEW
                else "Candidate"
            )
        if self.status == self.Status.SUPERSEDED:
            return f"Superseded ({self.get_decision_display().lower()})"
        return f"{self.get_decision_display()}: awaiting the prescriber's decision"

    @property
    def has_hard_stop(self) -> bool:
        return any(f.get("tier") == "hard_stop" for f in self.findings)

    @property
    def cautions(self) -> list[dict[str, str]]:
        return [f for f in self.findings if f.get("tier") == "caution"]


class ConsentForm(models.Model):
    """A version of the clinic's consent text for off-label ketamine treatment."""

    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="consent_forms")
    version = models.CharField(max_length=20)
    title = models.CharField(max_length=200)
    body = models.TextField()
    effective_on = models.DateField()
    retired = models.BooleanField(default=False)

    class Meta:
        ordering = ["-effective_on"]
        constraints = [
            models.UniqueConstraint(fields=["clinic", "version"], name="consent_version_unique")
        ]

    def __str__(self) -> str:
        return f"{self.title} v{self.version}"


class Consent(models.Model):
    """A patient's acceptance of one consent form version, witnessed by a member of staff."""

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="consents")
    form = models.ForeignKey(ConsentForm, on_delete=models.PROTECT, related_name="consents")
    accepted_at = models.DateTimeField()
    signed_name = models.CharField(
        max_length=200, help_text="The patient's name as the patient typed it."
    )
    witness = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    withdrawal_reason = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-accepted_at"]

    def __str__(self) -> str:
        local_at = clinic_local(self.patient.clinic, self.accepted_at)
        return f"{self.patient} accepted {self.form} on {local_at:%Y-%m-%d}"
