from django.apps import AppConfig


class FhirConfig(AppConfig):
    name = "ketaflow.fhir"
    label = "fhir"
    verbose_name = "FHIR R4"
