from django.contrib import admin

from ketaflow.portal.models import PortalSettings


@admin.register(PortalSettings)
class PortalSettingsAdmin(admin.ModelAdmin[PortalSettings]):
    list_display = ["clinic", "invitation_hours", "follow_up_months"]
