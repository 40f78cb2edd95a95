from django.apps import AppConfig


class TreatmentConfig(AppConfig):
    name = "ketaflow.treatment"
    label = "treatment"
    verbose_name = "Courses, chairs and appointments"
