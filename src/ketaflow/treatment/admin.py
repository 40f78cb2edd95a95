from django.contrib import admin

from ketaflow.treatment.models import Chair, OpeningHours, ScheduleSettings
from ketaflow.web.admin_site import ClinicScopedAdmin


@admin.register(Chair)
class ChairAdmin(ClinicScopedAdmin[Chair]):
    list_display = ["name", "clinic", "active"]
    list_filter = ["clinic", "active"]


@admin.register(OpeningHours)
class OpeningHoursAdmin(ClinicScopedAdmin[OpeningHours]):
    list_display = ["clinic", "weekday", "opens_at", "closes_at"]
    list_filter = ["clinic", "weekday"]


@admin.register(ScheduleSettings)
class ScheduleSettingsAdmin(ClinicScopedAdmin[ScheduleSettings]):
    list_display = [
        "clinic",
        "recovery_min",
        "max_patients_per_nurse",
        "vitals_every_min_during",
        "vitals_every_min_recovery",
    ]
    one_per_clinic = True
