from django.apps import AppConfig


class CandidacyConfig(AppConfig):
    name = "ketaflow.candidacy"
    label = "candidacy"
    verbose_name = "Candidacy and consent"
