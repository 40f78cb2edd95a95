from django.contrib import admin

from ketaflow.portal.models import PortalSettings
from ketaflow.web.admin_site import ClinicScopedAdmin


@admin.register(PortalSettings)
class PortalSettingsAdmin(ClinicScopedAdmin[PortalSettings]):
    list_display = ["clinic", "invitation_hours", "follow_up_months"]
    one_per_clinic = True
