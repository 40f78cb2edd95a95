from django.apps import AppConfig


class InfusionsConfig(AppConfig):
    name = "ketaflow.infusions"
    label = "infusions"
    verbose_name = "Infusion sessions"
