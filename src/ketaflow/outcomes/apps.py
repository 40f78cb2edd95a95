from django.apps import AppConfig


class OutcomesConfig(AppConfig):
    name = "ketaflow.outcomes"
    label = "outcomes"
    verbose_name = "Outcomes and boosters"
