from django.contrib import admin

from ketaflow.ledger.models import LedgerSettings
from ketaflow.web.admin_site import ClinicScopedAdmin


@admin.register(LedgerSettings)
class LedgerSettingsAdmin(ClinicScopedAdmin[LedgerSettings]):
    list_display = ["clinic", "second_counter_required"]
    one_per_clinic = True
