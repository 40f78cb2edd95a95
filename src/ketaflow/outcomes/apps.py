from django.apps import AppConfig
from django.db.models.signals import post_save


class OutcomesConfig(AppConfig):
    name = "ketaflow.outcomes"
    label = "outcomes"
    verbose_name = "Outcomes and boosters"

    def ready(self) -> None:
        from ketaflow.assessments.models import InstrumentResponse
        from ketaflow.outcomes.services import on_response_saved

        post_save.connect(
            on_response_saved, sender=InstrumentResponse, dispatch_uid="outcomes_response_saved"
        )
