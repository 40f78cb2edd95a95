from django.apps import AppConfig


class AssessmentsConfig(AppConfig):
    name = "ketaflow.assessments"
    label = "assessments"
    verbose_name = "Questionnaires and clinician-rated scales"
