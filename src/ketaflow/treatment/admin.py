from django.contrib import admin

from ketaflow.treatment.models import Chair, OpeningHours, ScheduleSettings


@admin.register(Chair)
class ChairAdmin(admin.ModelAdmin[Chair]):
    list_display = ["name", "clinic", "active"]
    list_filter = ["clinic", "active"]


@admin.register(OpeningHours)
class OpeningHoursAdmin(admin.ModelAdmin[OpeningHours]):
    list_display = ["clinic", "weekday", "opens_at", "closes_at"]
    list_filter = ["clinic", "weekday"]


@admin.register(ScheduleSettings)
class ScheduleSettingsAdmin(admin.ModelAdmin[ScheduleSettings]):
    list_display = ["clinic", "recovery_min", "max_patients_per_nurse"]
