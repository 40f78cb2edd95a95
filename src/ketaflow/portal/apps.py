from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "ketaflow.portal"
    label = "portal"
    verbose_name = "Patient portal, measurement plan and urgent tasks"
