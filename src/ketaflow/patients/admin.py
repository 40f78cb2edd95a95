from django.contrib import admin

from ketaflow.patients.models import RegistrySettings
from ketaflow.web.admin_site import ClinicScopedAdmin


@admin.register(RegistrySettings)
class RegistrySettingsAdmin(ClinicScopedAdmin[RegistrySettings]):
    list_display = ["clinic", "slash_dates"]
    one_per_clinic = True
