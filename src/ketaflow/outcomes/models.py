"""Booster recommendations: raised when the outcome rules find a loss of response, decided by a
prescriber (accepted, which books a booster course, or declined with a reason)."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from ketaflow.assessments.models import InstrumentResponse
from ketaflow.patients.models import Patient
from ketaflow.treatment.models import Course


class BoosterRecommendation(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", "Open"
        ACCEPTED = "accepted", "Accepted"
        DECLINED = "declined", "Declined"

    patient = models.ForeignKey(
        Patient, on_delete=models.PROTECT, related_name="booster_recommendations"
    )
    measure = models.CharField(max_length=16, help_text="The instrument code, e.g. pcl5.")
    lost_on = models.DateField(help_text="The day the loss-of-response rule was first met.")
    reason = models.TextField(help_text="The outcome rules' explanation of the loss of response.")
    schedule = models.JSONField(
        default=list,
        blank=True,
        help_text="Proposed booster visits from the booster schedule: [{on, phase}].",
    )
    schedule_explanation = models.TextField(blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decline_reason = models.CharField(max_length=500, blank=True)
    course = models.ForeignKey(
        Course,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="booster_recommendations",
        help_text="The booster course booked on acceptance.",
    )

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["patient"],
                condition=models.Q(status="open"),
                name="booster_one_open_per_patient",
            ),
            models.CheckConstraint(
                condition=~models.Q(status="declined") | ~models.Q(decline_reason=""),
                name="booster_declined_has_reason",
            ),
        ]

    def __str__(self) -> str:
        return f"Booster recommendation for {self.patient} ({self.get_status_display()})"

    @property
    def measure_label(self) -> str:
        return str(InstrumentResponse.InstrumentCode(self.measure).label)
