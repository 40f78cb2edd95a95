"""A clinic's value of one clinical setting (``ketaflow.clinical.clinic_settings``) and its
sign-off by the medical director. A setting without a row has its default, not signed."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class ClinicSetting(models.Model):
    clinic = models.ForeignKey("accounts.Clinic", on_delete=models.PROTECT, related_name="+")
    key = models.CharField(max_length=100)  # clinic_settings.SPECS key
    value = models.FloatField(null=True, blank=True)  # None: the rule is off
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    changed_at = models.DateTimeField()
    # The sign-off: who, when and the value signed. A change of value clears it.
    signed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    signed_at = models.DateTimeField(null=True, blank=True)
    signed_value = models.FloatField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["clinic", "key"], name="clinic_setting_once")
        ]

    def __str__(self) -> str:
        return f"{self.key} = {self.value}"

    @property
    def is_signed(self) -> bool:
        return self.signed_at is not None and self.signed_value == self.value
