"""Scored questionnaires and clinician-rated scales.

Scores always come from ``ketaflow.clinical.instruments`` (see ``assessments.services``); this
model stores the answers, the total and the full result. For licensed instruments (C-SSRS,
CAPS-5, MADRS, CADSS) only answers and scores are stored, never item text.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from ketaflow.accounts.clinictime import clinic_local
from ketaflow.clinical import Instrument
from ketaflow.clinical.common import choices
from ketaflow.patients.models import Patient


class InstrumentResponse(models.Model):
    # Defined once, in ketaflow.clinical; the field choices are built from it.
    InstrumentCode = Instrument

    class Source(models.TextChoices):
        CLINIC = "clinic", "In clinic"
        PORTAL = "portal", "Patient portal"

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="responses")
    instrument = models.CharField(max_length=16, choices=choices(Instrument))
    answers = models.JSONField(help_text="Item answers in order, as entered.")
    total = models.DecimalField(max_digits=6, decimal_places=1)
    result = models.JSONField(help_text="The full scoring result from ketaflow.clinical.")
    suicide_risk_flag = models.BooleanField(default=False)
    risk_level = models.CharField(max_length=16, blank=True)
    taken_at = models.DateTimeField()
    source = models.CharField(max_length=8, choices=Source.choices, default=Source.CLINIC)
    entered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    infusion_session_id = models.BigIntegerField(
        null=True, blank=True, db_index=True, help_text="The infusion session it belongs to."
    )
    context = models.CharField(
        max_length=32,
        blank=True,
        help_text="e.g. pre-infusion, during, discharge, consultation, follow-up",
    )
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-taken_at"]
        indexes = [models.Index(fields=["patient", "instrument", "taken_at"], name="resp_pt_instr")]

    def __str__(self) -> str:
        local_at = clinic_local(self.patient.clinic, self.taken_at)
        return f"{self.get_instrument_display()} {self.total} on {local_at:%Y-%m-%d}"
