from django.contrib import admin

from ketaflow.candidacy.models import ConsentForm


@admin.register(ConsentForm)
class ConsentFormAdmin(admin.ModelAdmin[ConsentForm]):
    """The medical director maintains the clinic's consent text; a change is a new version."""

    list_display = ["title", "version", "clinic", "effective_on", "retired"]
    list_filter = ["clinic", "retired"]

    def get_readonly_fields(self, request: object, obj: ConsentForm | None = None) -> list[str]:
        # A version that patients may have accepted is never rewritten: retire it, add a new one.
        return ["clinic", "version", "title", "body", "effective_on"] if obj else []
