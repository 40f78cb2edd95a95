from django.apps import AppConfig


class ClinicSettingsConfig(AppConfig):
    name = "ketaflow.clinicsettings"
    label = "clinicsettings"
    verbose_name = "Clinical settings and the medical director's sign-off"
