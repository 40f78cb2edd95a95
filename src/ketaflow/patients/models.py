"""The patient registry: demographics, contacts, and the structured clinical history that later
capabilities reason about (eligibility, treatment resistance)."""

from __future__ import annotations

import datetime as dt
import re
import secrets
from typing import ClassVar

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models

from ketaflow.accounts.clinictime import active_today, clinic_today
from ketaflow.accounts.models import Clinic

# ICD-10-CM code shape: a letter, two characters, then optionally a dot and up to four more
# (CMS ICD-10-CM tabular list conventions). F43.10/F43.12 PTSD; F32.x/F33.x depressive disorders.
ICD10_RE = re.compile(r"^[A-TV-Z][0-9][0-9AB](\.[0-9A-TV-Z]{1,4})?$", re.IGNORECASE)
icd10_validator = RegexValidator(
    ICD10_RE,
    "Enter an ICD-10-CM code such as F43.10 (letter, two characters, optional dot and up to "
    "four more).",
)

# Codes the registry knows by name; others are accepted by shape and need a description.
KNOWN_ICD10: dict[str, str] = {
    "F43.10": "Post-traumatic stress disorder, unspecified",
    "F43.11": "Post-traumatic stress disorder, acute",
    "F43.12": "Post-traumatic stress disorder, chronic",
    "F32.0": "Major depressive disorder, single episode, mild",
    "F32.1": "Major depressive disorder, single episode, moderate",
    "F32.2": "Major depressive disorder, single episode, severe without psychotic features",
    "F32.3": "Major depressive disorder, single episode, severe with psychotic features",
    "F32.9": "Major depressive disorder, single episode, unspecified",
    "F32.A": "Depression, unspecified",
    "F33.0": "Major depressive disorder, recurrent, mild",
    "F33.1": "Major depressive disorder, recurrent, moderate",
    "F33.2": "Major depressive disorder, recurrent severe without psychotic features",
    "F33.3": "Major depressive disorder, recurrent, severe with psychotic symptoms",
    "F33.9": "Major depressive disorder, recurrent, unspecified",
    "F41.1": "Generalized anxiety disorder",
    "F31.9": "Bipolar disorder, unspecified",
    "F20.9": "Schizophrenia, unspecified",
    "I10": "Essential (primary) hypertension",
    "G47.33": "Obstructive sleep apnea (adult) (pediatric)",
}


def mrn_default() -> str:
    return "KF" + "".join(secrets.choice("0123456789") for _ in range(8))


class Patient(models.Model):
    class SexAtBirth(models.TextChoices):
        FEMALE = "female", "Female"
        MALE = "male", "Male"
        INTERSEX = "intersex", "Intersex"
        UNKNOWN = "unknown", "Unknown / not disclosed"

    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="patients")
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="patient_record",
        help_text="The patient's own portal login, if any.",
    )
    mrn = models.CharField("MRN", max_length=20, default=mrn_default, editable=False)
    given_name = models.CharField(max_length=100)
    family_name = models.CharField(max_length=100)
    preferred_name = models.CharField(max_length=100, blank=True)
    date_of_birth = models.DateField()
    sex_at_birth = models.CharField(max_length=16, choices=SexAtBirth.choices)
    gender_identity = models.CharField(max_length=60, blank=True)
    pronouns = models.CharField(max_length=30, blank=True)
    phone = models.CharField(
        max_length=30,
        validators=[
            RegexValidator(r"^\+?[0-9 ().-]{7,30}$", "Enter a phone number: digits, spaces, +()-.")
        ],
    )
    email = models.EmailField(blank=True)
    address_line = models.CharField(max_length=200, blank=True)
    city = models.CharField(max_length=100, blank=True)
    region = models.CharField("State / region", max_length=60, blank=True)
    postal_code = models.CharField(max_length=20, blank=True)
    emergency_contact_name = models.CharField(max_length=150)
    emergency_contact_relationship = models.CharField(max_length=60)
    emergency_contact_phone = models.CharField(max_length=30)
    escort_name = models.CharField(
        max_length=150, blank=True, help_text="Adult who takes the patient home after infusions."
    )
    escort_phone = models.CharField(max_length=30, blank=True)
    # An inactive record leaves the lists and is not booked or drawn for; it stays readable.
    active = models.BooleanField(default=True)
    deactivated_at = models.DateTimeField(null=True, blank=True)
    deactivation_reason = models.CharField(max_length=300, blank=True)
    merged_into = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="merged_duplicates",
        help_text="The record this duplicate was merged into (its records moved there).",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["family_name", "given_name"]
        constraints = [
            models.UniqueConstraint(fields=["clinic", "mrn"], name="patient_mrn_unique_in_clinic"),
        ]
        indexes = [models.Index(fields=["clinic", "family_name"], name="patient_clinic_name")]

    # What ``display_name`` reads (with the clinic a list links the patient by): a list naming
    # patients reads only these (``ketaflow.web.reads.unread_but``).
    NAME_FIELDS: ClassVar[tuple[str, ...]] = (
        "id",
        "clinic",
        "given_name",
        "family_name",
        "preferred_name",
    )

    def __str__(self) -> str:
        return f"{self.family_name}, {self.given_name} ({self.mrn})"

    @property
    def display_name(self) -> str:
        given = self.preferred_name or self.given_name
        return f"{given} {self.family_name}"

    def age_on(self, day: dt.date) -> int:
        years = day.year - self.date_of_birth.year
        if (day.month, day.day) < (self.date_of_birth.month, self.date_of_birth.day):
            years -= 1
        return years

    def clean(self) -> None:
        today = clinic_today(self.clinic) if self.clinic_id else active_today()
        if self.date_of_birth and self.date_of_birth > today:
            raise ValidationError({"date_of_birth": "Date of birth cannot be in the future."})
        if self.date_of_birth and self.date_of_birth.year < 1900:
            raise ValidationError({"date_of_birth": "Date of birth must be in 1900 or later."})
        if bool(self.escort_name) != bool(self.escort_phone):
            field = "escort_phone" if self.escort_name else "escort_name"
            raise ValidationError({field: "Give both the escort's name and phone, or neither."})


class RegistrySettings(models.Model):
    """A clinic's registry conventions (set up by its medical director in the administration).
    A clinic without a row uses the defaults."""

    class SlashDates(models.TextChoices):
        MONTH_FIRST = "mdy", "Month first: 03/14/1980"
        DAY_FIRST = "dmy", "Day first: 14/03/1980"

    clinic = models.OneToOneField(
        Clinic, on_delete=models.CASCADE, related_name="registry_settings"
    )
    slash_dates = models.CharField(
        "Dates typed with slashes",
        max_length=3,
        choices=SlashDates.choices,
        default=SlashDates.MONTH_FIRST,
        help_text="How the front desk types a date of birth with slashes in the patient search. "
        "1980-03-14 is always year-month-day and 14.03.1980 always day.month.year.",
    )

    class Meta:
        verbose_name = "registry settings"
        verbose_name_plural = "registry settings"

    def __str__(self) -> str:
        return f"Registry settings of {self.clinic}"


class PatientRecord(models.Model):
    """Base for the clinical sub-records of a chart."""

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE)
    recorded_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    label: ClassVar[str] = "record"

    class Meta:
        abstract = True


class Allergy(PatientRecord):
    class Severity(models.TextChoices):
        MILD = "mild", "Mild"
        MODERATE = "moderate", "Moderate"
        SEVERE = "severe", "Severe / anaphylaxis"
        UNKNOWN = "unknown", "Unknown"

    substance = models.CharField(max_length=120)
    reaction = models.CharField(max_length=200, blank=True)
    severity = models.CharField(max_length=16, choices=Severity.choices, default="unknown")

    label = "allergy"

    class Meta:
        ordering = ["substance"]
        verbose_name_plural = "allergies"

    def __str__(self) -> str:
        return self.substance


class CurrentMedication(PatientRecord):
    name = models.CharField("Medication", max_length=120)
    dose_amount = models.DecimalField(
        max_digits=10, decimal_places=3, null=True, blank=True, validators=[MinValueValidator(0)]
    )
    dose_unit = models.CharField(
        max_length=16,
        blank=True,
        choices=[("mg", "mg"), ("mcg", "mcg"), ("g", "g"), ("mL", "mL"), ("units", "units")],
    )
    frequency = models.CharField(max_length=60, blank=True, help_text="e.g. once daily, at night")
    started_on = models.DateField(null=True, blank=True)

    label = "current medication"

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if (self.dose_amount is None) != (not self.dose_unit):
            raise ValidationError({"dose_unit": "Give the dose amount together with its unit."})


class Diagnosis(PatientRecord):
    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        IN_REMISSION = "remission", "In remission"
        RESOLVED = "resolved", "Resolved"
        HISTORICAL = "historical", "History of"

    code = models.CharField("ICD-10-CM code", max_length=10, validators=[icd10_validator])
    description = models.CharField(max_length=200, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default="active")
    onset_on = models.DateField(null=True, blank=True)

    label = "diagnosis"

    class Meta:
        ordering = ["code"]
        verbose_name_plural = "diagnoses"

    def __str__(self) -> str:
        return f"{self.code} {self.description}"

    def clean(self) -> None:
        self.code = (self.code or "").strip().upper()
        if not self.description:
            known = KNOWN_ICD10.get(self.code)
            if known is None:
                raise ValidationError(
                    {"description": f"Describe {self.code}: it is not in the built-in code list."}
                )
            self.description = known


class TrialOutcome(models.TextChoices):
    REMISSION = "remission", "Remission"
    RESPONSE = "response", "Response"
    PARTIAL = "partial", "Partial response"
    NO_RESPONSE = "no_response", "No response"
    NOT_TOLERATED = "not_tolerated", "Not tolerated"
    DISCONTINUED = "discontinued", "Discontinued early"
    UNKNOWN = "unknown", "Unknown"


class PsychotherapyTrial(PatientRecord):
    class Modality(models.TextChoices):
        PE = "PE", "Prolonged exposure (PE)"
        CPT = "CPT", "Cognitive processing therapy (CPT)"
        EMDR = "EMDR", "Eye movement desensitisation and reprocessing (EMDR)"
        CBT = "CBT", "Cognitive behavioural therapy (other)"
        OTHER = "other", "Other"

    modality = models.CharField(max_length=8, choices=Modality.choices)
    other_name = models.CharField("Name (if other)", max_length=120, blank=True)
    sessions_completed = models.PositiveSmallIntegerField(validators=[MaxValueValidator(500)])
    started_on = models.DateField(null=True, blank=True)
    ended_on = models.DateField(null=True, blank=True)
    outcome = models.CharField(max_length=16, choices=TrialOutcome.choices)
    notes = models.CharField(max_length=300, blank=True)

    label = "psychotherapy"

    class Meta:
        ordering = ["-started_on"]

    def __str__(self) -> str:
        return f"{self.modality}, {self.sessions_completed} sessions"

    def clean(self) -> None:
        if self.modality == self.Modality.OTHER and not self.other_name:
            raise ValidationError({"other_name": "Name the therapy when the modality is Other."})
        _check_dates(self, self.started_on, self.ended_on)


class MedicationTrial(PatientRecord):
    class ReasonStopped(models.TextChoices):
        INEFFECTIVE = "ineffective", "Not effective"
        SIDE_EFFECTS = "side_effects", "Side effects"
        COST = "cost", "Cost or access"
        PREFERENCE = "preference", "Patient preference"
        ONGOING = "ongoing", "Still taking"
        OTHER = "other", "Other"

    drug = models.CharField(max_length=120)
    dose_mg_per_day = models.DecimalField(
        "Dose (mg/day)",
        max_digits=8,
        decimal_places=2,
        validators=[MinValueValidator(0), MaxValueValidator(10000)],
    )
    duration_weeks = models.DecimalField(
        "Duration (weeks)",
        max_digits=6,
        decimal_places=1,
        validators=[MinValueValidator(0), MaxValueValidator(1040)],
    )
    started_on = models.DateField(null=True, blank=True)
    ended_on = models.DateField(null=True, blank=True)
    outcome = models.CharField(max_length=16, choices=TrialOutcome.choices)
    reason_stopped = models.CharField(max_length=16, choices=ReasonStopped.choices)
    notes = models.CharField(max_length=300, blank=True)

    label = "medication trial"

    class Meta:
        ordering = ["-started_on"]

    def __str__(self) -> str:
        return f"{self.drug} {self.dose_mg_per_day} mg/day for {self.duration_weeks} weeks"

    def clean(self) -> None:
        _check_dates(self, self.started_on, self.ended_on)


class ClinicalNote(PatientRecord):
    """A free-text clinical note. Notes are never edited; a correction is a new note."""

    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="notes_written"
    )
    kind = models.CharField(
        max_length=16,
        choices=[("consultation", "Consultation"), ("progress", "Progress"), ("other", "Other")],
        default="consultation",
    )
    text = models.TextField(max_length=20000)

    label = "clinical note"

    class Meta:
        ordering = ["-recorded_at"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} note by {self.author}"


def _check_dates(record: PatientRecord, start: dt.date | None, end: dt.date | None) -> None:
    if start and end and end < start:
        raise ValidationError({"ended_on": "The end date is before the start date."})
    today = clinic_today(record.patient.clinic) if record.patient_id else active_today()
    if start and start > today:
        raise ValidationError({"started_on": "The start date is in the future."})
