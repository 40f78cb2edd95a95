"""Treatment courses, the clinic's chairs and opening hours, and booked appointments."""

from __future__ import annotations

from typing import Final

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from ketaflow.accounts.clinictime import clinic_local
from ketaflow.accounts.models import Clinic
from ketaflow.candidacy.models import CandidacyAssessment
from ketaflow.clinical import Indication
from ketaflow.clinical import WeightBasis as ClinicalWeightBasis
from ketaflow.clinical.common import choices
from ketaflow.clinical.monitoring import VITALS_EVERY_MIN_AFTER, VITALS_EVERY_MIN_DURING
from ketaflow.patients.models import Patient

# Chair time after the infusion ends, for recovery and discharge checks. The Spravato label asks
# for at least 2 hours of observation after the dose (clinical.md sections 2.3 and 4.5 [READ]):
# 2 h from the start of the standard 40-minute infusion is 80 minutes after it ends. This is
# longer than the ED low-dose protocol's 60 minutes and clinical.md 4.1's suggested 30-60 minutes
# of post-infusion vitals, so it is the safer default; each clinic sets its own.
RECOVERY_MIN_DEFAULT: Final = 80
# Clinic policy (no published nurse-to-patient ratio in clinical.md; section 4.1 describes
# continuous monitoring by an ACLS-trained clinician): one nurse looks after at most 2 infusing or
# recovering patients at the same time. Medical director to review.
MAX_PATIENTS_PER_NURSE_DEFAULT: Final = 2
# Vitals during the infusion and after it, until discharge: Riva-Posse et al. 2018 (684
# infusions, 0.5 mg/kg over 40 min) took blood pressure every 10 min during and every 15 min
# after (clinical.md s. 4.1 [READ]); Szarmach 2020 every 15 min. clinical.md's suggested default
# is every 5-10 min during and every 15 min after. The shorter published interval is the safer
# default; a clinic may shorten it (never lengthen it beyond 15 and 30 min).
VITALS_EVERY_MIN_DURING_DEFAULT: Final = VITALS_EVERY_MIN_DURING
VITALS_EVERY_MIN_RECOVERY_DEFAULT: Final = VITALS_EVERY_MIN_AFTER


class ScheduleSettings(models.Model):
    """A clinic's scheduling policy. A clinic without a row uses the defaults above."""

    clinic = models.OneToOneField(
        Clinic, on_delete=models.CASCADE, related_name="schedule_settings"
    )
    recovery_min = models.PositiveSmallIntegerField(
        "Recovery time (min)",
        default=RECOVERY_MIN_DEFAULT,
        validators=[MinValueValidator(30), MaxValueValidator(480)],
        help_text="Chair time after the infusion ends (observation until discharge).",
    )
    max_patients_per_nurse = models.PositiveSmallIntegerField(
        "Patients per nurse at once",
        default=MAX_PATIENTS_PER_NURSE_DEFAULT,
        validators=[MinValueValidator(1), MaxValueValidator(8)],
        help_text="Clinic policy: how many patients one nurse may have in chairs at the same time.",
    )
    vitals_every_min_during = models.PositiveSmallIntegerField(
        "Vitals during the infusion, every (min)",
        default=VITALS_EVERY_MIN_DURING_DEFAULT,
        validators=[MinValueValidator(5), MaxValueValidator(15)],
        help_text="Default 10 min (Riva-Posse 2018). The session page and Today's infusions "
        "show when the next reading is due and flag an overdue one.",
    )
    vitals_every_min_recovery = models.PositiveSmallIntegerField(
        "Vitals after the infusion, every (min)",
        default=VITALS_EVERY_MIN_RECOVERY_DEFAULT,
        validators=[MinValueValidator(5), MaxValueValidator(30)],
        help_text="Default 15 min (Riva-Posse 2018), until discharge.",
    )

    class Meta:
        verbose_name_plural = "schedule settings"

    def __str__(self) -> str:
        return f"Schedule settings of {self.clinic}"


class Chair(models.Model):
    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="chairs")
    name = models.CharField(max_length=60)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["clinic", "name"]
        constraints = [models.UniqueConstraint(fields=["clinic", "name"], name="chair_name_unique")]

    def __str__(self) -> str:
        return self.name


class OpeningHours(models.Model):
    """When the clinic infuses, per weekday (0 = Monday)."""

    clinic = models.ForeignKey(Clinic, on_delete=models.CASCADE, related_name="opening_hours")
    weekday = models.PositiveSmallIntegerField(validators=[MaxValueValidator(6)])
    opens_at = models.TimeField()
    closes_at = models.TimeField()

    class Meta:
        ordering = ["clinic", "weekday", "opens_at"]
        verbose_name_plural = "opening hours"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(closes_at__gt=models.F("opens_at")),
                name="opening_hours_close_after_open",
            )
        ]

    def __str__(self) -> str:
        return f"weekday {self.weekday} {self.opens_at:%H:%M}-{self.closes_at:%H:%M}"


class Course(models.Model):
    """A planned series of infusions (an induction or a booster series) for one patient."""

    class Kind(models.TextChoices):
        INDUCTION = "induction", "Induction"
        BOOSTER = "booster", "Booster"

    class Pattern(models.TextChoices):
        THREE_A_WEEK = "three_a_week", "Three a week over two weeks"
        TWICE_A_WEEK = "twice_a_week", "Twice a week over three weeks"
        SINGLE = "single", "Single infusion"

    class Status(models.TextChoices):
        PLANNED = "planned", "Planned"
        BOOKED = "booked", "Booked"
        ACTIVE = "active", "In progress"
        COMPLETED = "completed", "Completed"
        CANCELLED = "cancelled", "Cancelled"

    # Defined once, in ketaflow.clinical; the field choices are built from it.
    WeightBasis = ClinicalWeightBasis

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="courses")
    candidacy = models.ForeignKey(
        CandidacyAssessment, on_delete=models.PROTECT, related_name="courses"
    )
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.INDUCTION)
    indication = models.CharField(max_length=16, choices=choices(Indication))
    drug_library_key = models.CharField(
        max_length=40, help_text="The drug library entry the course doses from."
    )
    dose_mg_per_kg = models.DecimalField(
        max_digits=5, decimal_places=3, validators=[MinValueValidator(0)]
    )
    duration_min = models.DecimalField(
        max_digits=5, decimal_places=1, validators=[MinValueValidator(0)]
    )
    weight_basis = models.CharField(max_length=16, choices=choices(ClinicalWeightBasis))
    pattern = models.CharField(max_length=16, choices=Pattern.choices)
    infusions_planned = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(24)]
    )
    min_spacing_days = models.PositiveSmallIntegerField(default=1)
    start_on = models.DateField()
    weight_kg = models.DecimalField(
        "Weight at planning (kg)",
        max_digits=5,
        decimal_places=1,
        null=True,
        validators=[MinValueValidator(0)],
        help_text="For the total-dose check and the concentration estimate; each infusion doses "
        "on the weight of the day.",
    )
    height_cm = models.DecimalField(
        "Height (cm)",
        max_digits=4,
        decimal_places=1,
        null=True,
        blank=True,
        validators=[MinValueValidator(0)],
        help_text="Needed for ideal or adjusted body weight (Devine formula).",
    )
    planned_dates = models.JSONField(
        default=list, blank=True, help_text="ISO dates from the schedule rules, one per infusion."
    )
    plan_explanation = models.CharField(max_length=500, blank=True)
    planning_warnings = models.JSONField(
        default=list, blank=True, help_text="Soft-limit breaches and schedule warnings."
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PLANNED)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    notes = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-start_on"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(indication__in=[i.value for i in Indication]),
                name="course_indication_valid",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} course for {self.patient} from {self.start_on}"


class Appointment(models.Model):
    class Status(models.TextChoices):
        BOOKED = "booked", "Booked"
        ARRIVED = "arrived", "Arrived"
        IN_PROGRESS = "in_progress", "In progress"
        COMPLETED = "completed", "Completed"
        CANCELLED = "cancelled", "Cancelled"
        NO_SHOW = "no_show", "Did not attend"

    course = models.ForeignKey(Course, on_delete=models.PROTECT, related_name="appointments")
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="appointments")
    sequence = models.PositiveSmallIntegerField(help_text="1 for the first infusion of the course")
    chair = models.ForeignKey(Chair, on_delete=models.PROTECT, related_name="appointments")
    nurse = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="nursing_appointments",
    )
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField(help_text="Chair time including recovery.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.BOOKED)
    booked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    cancel_reason = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["starts_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends_at__gt=models.F("starts_at")),
                name="appointment_ends_after_start",
            ),
        ]
        indexes = [models.Index(fields=["chair", "starts_at"], name="appt_chair_start")]

    def __str__(self) -> str:
        local_at = clinic_local(self.patient.clinic, self.starts_at)
        return f"{self.patient} in {self.chair} at {local_at:%Y-%m-%d %H:%M}"
