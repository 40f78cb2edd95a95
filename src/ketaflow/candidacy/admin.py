from typing import Any

from django.contrib import admin

from ketaflow.candidacy.models import ConsentForm
from ketaflow.web.admin_site import ClinicScopedAdmin


@admin.register(ConsentForm)
class ConsentFormAdmin(ClinicScopedAdmin[ConsentForm]):
    """The medical director maintains the clinic's consent text; a change is a new version."""

    list_display = ["title", "version", "clinic", "effective_on", "retired"]
    list_filter = ["clinic", "retired"]

    def get_readonly_fields(self, request: Any, obj: ConsentForm | None = None) -> Any:
        # A version that patients may have accepted is never rewritten: retire it, add a new one.
        if obj:
            return ["clinic", "version", "title", "body", "effective_on"]
        return super().get_readonly_fields(request, obj)
