"""One infusion session per appointment, and its append-only rows.

The session row holds the single-valued parts (checklist, dose, vial, discharge, sign-off) and a
``version`` counter: a form for one of them carries the version it was read at, and a save from a
stale form is refused naming who changed it (optimistic locking). Everything that happens over
time (pump events, vitals, side effects, addenda) is an append-only row with a client-generated
UUID, so two people charting at once and a tablet retrying after a dropped connection lose
nothing and store nothing twice. A correction of a vitals entry is a new row pointing at the
original; the original is kept.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import ClassVar, overload

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models

from ketaflow.accounts.clinictime import clinic_local
from ketaflow.audit.chain import DamagedRecord
from ketaflow.audit.models import AppendOnly
from ketaflow.audit.models import AppendOnlyError as AppendOnlyError  # tests import it here
from ketaflow.clinical import Indication as ClinicalIndication
from ketaflow.clinical import WeightBasis as ClinicalWeightBasis
from ketaflow.clinical.common import choices
from ketaflow.clinical.pump import PumpEventKind
from ketaflow.patients.models import Patient
from ketaflow.treatment.models import Appointment

# The plan's figures that the session once also kept in columns of their own (removed by
# migration 0005; the note's seal still hashes them under these names, ketaflow.infusions.lock),
# each with its words for a message a person reads.
PLAN_FIGURE_WORDS = {
    "dose_mg": "dose in mg",
    "drug_volume_ml": "drug volume in mL",
    "drug_volume_ml_exact": "exact drug volume in mL",
    "total_volume_ml": "bag volume in mL",
    "final_concentration_mg_per_ml": "concentration in mg/mL",
    "rate_ml_per_h": "pump rate in mL/h",
    "rate_ml_per_h_exact": "exact pump rate in mL/h",
}
PLAN_FIGURES = tuple(PLAN_FIGURE_WORDS)


@dataclass(frozen=True)
class DosePlan:
    """The computed figures of a session's stored plan (``ketaflow.clinical.InfusionPlan``):
    ``*_exact`` unrounded, the others at syringe (0.01 mL) and pump (0.1 mL/h) resolution; no
    rate when the plan has no duration."""

    dose_mg: float
    drug_volume_ml: float
    drug_volume_ml_exact: float
    total_volume_ml: float
    final_concentration_mg_per_ml: float
    rate_ml_per_h: float | None
    rate_ml_per_h_exact: float | None


def _words(name: str) -> str:
    return PLAN_FIGURE_WORDS.get(name, name.replace("_", " "))


def plan_figure(session_pk: object, plan: object, name: str) -> float | None:
    """``plan[name]`` as the float it was computed as (None when there is no plan or no such
    figure); a value that is not a number is refused naming the session, never guessed at."""
    if not isinstance(plan, dict):
        return None
    value = plan.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise DamagedRecord(
            f"infusion session {session_pk}: its dose plan's {_words(name)} is {value!r}, "
            "not a number"
        )
    return float(value)


class PlanFigure:
    """A figure of a session's stored plan, read-only, under the name of the column that once
    copied it (``session.dose_mg`` is ``session.plan["dose_mg"]`` as a float, or None)."""

    name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, obj: None, owner: type | None = None) -> PlanFigure: ...
    @overload
    def __get__(self, obj: InfusionSession, owner: type | None = None) -> float | None: ...
    def __get__(
        self, obj: InfusionSession | None, owner: type | None = None
    ) -> PlanFigure | float | None:
        if obj is None:
            return self
        return plan_figure(obj.pk, obj.plan, self.name)

    def __set__(self, obj: InfusionSession, value: object) -> None:
        raise AttributeError(f"{self.name} is read from the session's plan; compute the dose")


class InfusionSession(models.Model):
    class Status(models.TextChoices):
        PLANNED = "planned", "Planned"
        CHECKLIST = "checklist", "Pre-infusion checklist"
        RUNNING = "running", "Running"
        PAUSED = "paused", "Paused"
        STOPPED = "stopped", "Stopped"
        RECOVERY = "recovery", "Recovery"
        DISCHARGED = "discharged", "Discharged"
        SIGNED = "signed", "Signed and locked"
        COSIGN = "cosign", "Signed by the nurse; awaiting the prescriber's co-signature"

    class PregnancyTest(models.TextChoices):
        NOT_DONE = "", "Not recorded"
        NEGATIVE = "negative", "Negative"
        POSITIVE = "positive", "Positive"
        NOT_APPLICABLE = "not_applicable", "Not applicable"

    # Defined once, in ketaflow.clinical; the field choices are built from them.
    Indication = ClinicalIndication
    WeightBasis = ClinicalWeightBasis

    appointment = models.OneToOneField(
        Appointment, on_delete=models.PROTECT, related_name="infusion_session"
    )
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="infusion_sessions")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PLANNED)
    version = models.PositiveIntegerField(
        default=1, help_text="Raised by every change of the single-valued parts (checklist ...)."
    )
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    # The pre-infusion checklist.
    fasting_confirmed = models.BooleanField(default=False)
    escort_confirmed = models.BooleanField(default=False)
    pregnancy_test = models.CharField(
        max_length=16, choices=PregnancyTest.choices, blank=True, default=""
    )
    weight_kg = models.DecimalField(
        max_digits=5, decimal_places=1, null=True, blank=True, validators=[MinValueValidator(0)]
    )
    weight_measured_on = models.DateField(null=True, blank=True)
    height_cm = models.DecimalField(
        max_digits=4, decimal_places=1, null=True, blank=True, validators=[MinValueValidator(0)]
    )
    risk_acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    risk_acknowledged_at = models.DateTimeField(null=True, blank=True)
    risk_acknowledgement = models.TextField(blank=True)

    # The order the dose is computed from, and the computed plan (ketaflow.clinical.plan_infusion).
    indication = models.CharField(max_length=16, choices=choices(ClinicalIndication), blank=True)
    weight_basis = models.CharField(max_length=16, choices=choices(ClinicalWeightBasis), blank=True)
    dose_mg_per_kg = models.DecimalField(max_digits=5, decimal_places=3, null=True, blank=True)
    vial_concentration_mg_per_ml = models.DecimalField(
        max_digits=6, decimal_places=2, null=True, blank=True
    )
    final_volume_ml = models.DecimalField(max_digits=6, decimal_places=1, null=True, blank=True)
    duration_min = models.DecimalField(max_digits=5, decimal_places=1, null=True, blank=True)
    # The plan is the one stored copy of the computed figures (issue 15): dose, volumes and rate
    # are read from it (``dose_plan`` and the read-only properties below), exactly as
    # plan_infusion returned them (IEEE doubles, not rounded).
    plan = models.JSONField(null=True, blank=True, help_text="The InfusionPlan, as computed.")
    dose_computed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    dose_computed_at = models.DateTimeField(null=True, blank=True)
    override_reason = models.TextField(blank=True)
    override_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    override_role = models.CharField(max_length=32, blank=True)

    # The vial.
    vial_lot = models.CharField(max_length=40, blank=True)
    vial_expires_on = models.DateField(null=True, blank=True)
    drawn_volume_ml = models.DecimalField(max_digits=6, decimal_places=2, null=True, blank=True)
    vial_recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    # The infusion (from the events; delivered dose recomputed on every event, never rounded).
    started_at = models.DateTimeField(null=True, blank=True)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    ended_at = models.DateTimeField(null=True, blank=True)
    delivered_dose_mg = models.FloatField(null=True, blank=True)
    delivered_volume_ml = models.FloatField(null=True, blank=True)

    # Discharge and sign-off.
    escort_present = models.BooleanField(default=False)
    instructions_given = models.BooleanField(default=False)
    discharged_at = models.DateTimeField(null=True, blank=True)
    discharged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    signed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    signed_at = models.DateTimeField(null=True, blank=True)
    locked = models.BooleanField(default=False)
    lock_hash = models.CharField(
        max_length=64,
        blank=True,
        editable=False,
        help_text="SHA-256 of the note as signed (ketaflow.infusions.lock).",
    )

    # A prescriber's override of a baseline reading at or above the critical limits (it names the
    # reading it overrides: a later baseline needs its own).
    baseline_override_vitals = models.ForeignKey(
        "VitalsEntry", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    baseline_override_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    baseline_override_at = models.DateTimeField(null=True, blank=True)
    baseline_override_reason = models.TextField(blank=True)
    # The prescriber's co-signature (a session with a critical or emergency reading or an
    # override): the note is locked when it is given.
    cosigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    cosigned_at = models.DateTimeField(null=True, blank=True)

    # Read from a field, shown after it in the patient's complete record (right of access).
    DERIVED_FIELDS: ClassVar[dict[str, tuple[str, ...]]] = {"plan": PLAN_FIGURES}

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(locked=True)
                | (models.Q(signed_by__isnull=False) & models.Q(signed_at__isnull=False)),
                name="infusion_locked_has_signer",
            ),
        ]

    def __str__(self) -> str:
        return f"Infusion session {self.pk} for {self.patient} ({self.get_status_display()})"

    def _figure(self, name: str) -> float | None:
        return plan_figure(self.pk, self.plan, name)

    def _required(self, name: str) -> float:
        value = self._figure(name)
        if value is None:
            raise DamagedRecord(f"infusion session {self.pk}: its dose plan has no {_words(name)}")
        return value

    @property
    def dose_plan(self) -> DosePlan | None:
        """The computed dose, volumes and rate from ``plan``; None before the dose is computed."""
        if self.plan is None:
            return None
        return DosePlan(
            dose_mg=self._required("dose_mg"),
            drug_volume_ml=self._required("drug_volume_ml"),
            drug_volume_ml_exact=self._required("drug_volume_ml_exact"),
            total_volume_ml=self._required("total_volume_ml"),
            final_concentration_mg_per_ml=self._required("final_concentration_mg_per_ml"),
            rate_ml_per_h=self._figure("rate_ml_per_h"),
            rate_ml_per_h_exact=self._figure("rate_ml_per_h_exact"),
        )

    # The plan's figures under their old column names, read-only (templates, exports, the seal);
    # the displayed ones at syringe (0.01 mL) and pump (0.1 mL/h) resolution, *_exact unrounded.
    dose_mg = PlanFigure()
    drug_volume_ml = PlanFigure()
    drug_volume_ml_exact = PlanFigure()
    total_volume_ml = PlanFigure()
    final_concentration_mg_per_ml = PlanFigure()
    rate_ml_per_h = PlanFigure()
    rate_ml_per_h_exact = PlanFigure()


class InfusionEvent(AppendOnly):
    # The pump events, defined once in ketaflow.clinical.pump (rate_segments).
    Kind = PumpEventKind

    class Reason(models.TextChoices):
        NONE = "", "—"
        PATIENT_REQUEST = "patient_request", "Patient's request"
        VITALS = "vitals", "Vital signs out of range"
        SIDE_EFFECT = "side_effect", "Side effect (nausea, dissociation, anxiety ...)"
        PRESCRIBER = "prescriber", "Prescriber's order"
        EQUIPMENT = "equipment", "Pump, line or cannula problem"
        OTHER = "other", "Other (describe)"

    session = models.ForeignKey(InfusionSession, on_delete=models.PROTECT, related_name="events")
    kind = models.CharField(max_length=16, choices=choices(PumpEventKind))
    at = models.DateTimeField()
    rate_ml_per_h = models.DecimalField(
        max_digits=7,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="The pump rate from this event on (start, rate change, resume).",
    )
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    note = models.CharField(max_length=300, blank=True)
    client_uuid = models.UUIDField(default=uuid.uuid4, unique=True)
    recorded_at = models.DateTimeField(auto_now_add=True)
    reason = models.CharField(
        max_length=24,
        choices=Reason.choices,
        blank=True,
        help_text="Why the infusion was paused or stopped before the planned dose.",
    )

    class Meta:
        ordering = ["at", "pk"]

    def __str__(self) -> str:
        local_at = clinic_local(self.session.patient.clinic, self.at)
        return f"{self.get_kind_display()} at {local_at:%H:%M:%S}"


class VitalsEntry(AppendOnly):
    class Phase(models.TextChoices):
        BASELINE = "baseline", "Baseline"
        DURING = "during", "During infusion"
        RECOVERY = "recovery", "Recovery"

    session = models.ForeignKey(InfusionSession, on_delete=models.PROTECT, related_name="vitals")
    phase = models.CharField(max_length=16, choices=Phase.choices)
    measured_at = models.DateTimeField()
    # No validators here: the monitoring rules (ketaflow.clinical.monitoring) refuse impossible
    # values with their own reason before anything is stored.
    systolic_mmhg = models.IntegerField()
    diastolic_mmhg = models.IntegerField()
    heart_rate_bpm = models.IntegerField()
    spo2_percent = models.IntegerField()
    respiratory_rate_per_min = models.IntegerField(null=True, blank=True)
    symptoms = models.JSONField(default=list, blank=True, help_text="End-organ symptoms.")
    level = models.CharField(max_length=16)
    actions = models.JSONField(default=list, blank=True)
    reasons = models.JSONField(default=list)
    assessment = models.JSONField(help_text="The MonitoringAssessment, as computed.")
    corrects = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="corrections"
    )
    correction_reason = models.CharField(max_length=300, blank=True)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    client_uuid = models.UUIDField(default=uuid.uuid4, unique=True)
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["measured_at", "pk"]
        verbose_name_plural = "vitals entries"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(corrects__isnull=True) | ~models.Q(correction_reason=""),
                name="vitals_correction_has_reason",
            ),
        ]

    def __str__(self) -> str:
        return (
            f"{clinic_local(self.session.patient.clinic, self.measured_at):%H:%M} "
            f"BP {self.systolic_mmhg}/{self.diastolic_mmhg} "
            f"HR {self.heart_rate_bpm} SpO2 {self.spo2_percent}"
        )


class SideEffect(AppendOnly):
    class Kind(models.TextChoices):
        NAUSEA = "nausea", "Nausea"
        VOMITING = "vomiting", "Vomiting"
        DIZZINESS = "dizziness", "Dizziness"
        DISSOCIATION = "dissociation", "Dissociation"
        HALLUCINATIONS = "hallucinations", "Hallucinations"
        HYPERTENSION = "hypertension", "Hypertension"
        HYPOTENSION = "hypotension", "Hypotension"
        TACHYCARDIA = "tachycardia", "Tachycardia"
        ANXIETY = "anxiety", "Anxiety / agitation"
        HEADACHE = "headache", "Headache"
        OTHER = "other", "Other"

    class Severity(models.TextChoices):
        MILD = "mild", "Mild"
        MODERATE = "moderate", "Moderate"
        SEVERE = "severe", "Severe"

    class Route(models.TextChoices):
        NONE = "", "—"
        IV = "iv", "IV"
        PO = "po", "By mouth"
        SL = "sl", "Sublingual"
        IM = "im", "IM"
        INHALED = "inhaled", "Inhaled"
        OTHER = "other", "Other"

    session = models.ForeignKey(
        InfusionSession, on_delete=models.PROTECT, related_name="side_effects"
    )
    kind = models.CharField(max_length=16, choices=Kind.choices)
    other_description = models.CharField(max_length=120, blank=True)
    severity = models.CharField(max_length=16, choices=Severity.choices)
    onset_at = models.DateTimeField()
    medication = models.CharField(max_length=100, blank=True)
    dose_amount = models.DecimalField(
        max_digits=8, decimal_places=3, null=True, blank=True, validators=[MinValueValidator(0)]
    )
    dose_unit = models.CharField(max_length=16, blank=True)
    route = models.CharField(max_length=16, choices=Route.choices, blank=True)
    given_at = models.DateTimeField(null=True, blank=True)
    note = models.CharField(max_length=300, blank=True)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    client_uuid = models.UUIDField(default=uuid.uuid4, unique=True)
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["onset_at", "pk"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.get_severity_display()})"


class Addendum(AppendOnly):
    session = models.ForeignKey(InfusionSession, on_delete=models.PROTECT, related_name="addenda")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(auto_now_add=True)
    text = models.TextField()
    client_uuid = models.UUIDField(default=uuid.uuid4, unique=True)

    class Meta:
        ordering = ["at", "pk"]
        verbose_name_plural = "addenda"

    def __str__(self) -> str:
        local_at = clinic_local(self.session.patient.clinic, self.at)
        return f"Addendum by {self.author} at {local_at:%Y-%m-%d %H:%M}"


class PrescriberDecision(AppendOnly):
    """A prescriber's decision on a critical or emergency reading during the infusion; resuming a
    pump paused after such a reading needs one recorded after it."""

    class Decision(models.TextChoices):
        RESUME = "resume", "Resume the infusion"
        STOP = "stop", "Do not resume: stop the infusion"

    session = models.ForeignKey(InfusionSession, on_delete=models.PROTECT, related_name="decisions")
    reading = models.ForeignKey(VitalsEntry, on_delete=models.PROTECT, related_name="decisions")
    decision = models.CharField(max_length=16, choices=Decision.choices)
    note = models.TextField()
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField()
    client_uuid = models.UUIDField(default=uuid.uuid4, unique=True)
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["at", "pk"]

    def __str__(self) -> str:
        local_at = clinic_local(self.session.patient.clinic, self.at)
        return f"{self.get_decision_display()} at {local_at:%H:%M}"


class AdverseEvent(AppendOnly):
    """A critical or emergency reading during or after the infusion, counted by the outcomes
    dashboard beside the side effects (written with the reading, in its transaction)."""

    session = models.ForeignKey(
        InfusionSession, on_delete=models.PROTECT, related_name="adverse_events"
    )
    reading = models.OneToOneField(
        VitalsEntry, on_delete=models.PROTECT, related_name="adverse_event"
    )
    level = models.CharField(max_length=16)
    summary = models.CharField(max_length=300)
    at = models.DateTimeField()
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["at", "pk"]

    def __str__(self) -> str:
        local_at = clinic_local(self.session.patient.clinic, self.at)
        return f"Adverse event ({self.level}) at {local_at:%H:%M}"
