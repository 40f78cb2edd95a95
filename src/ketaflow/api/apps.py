from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "ketaflow.api"
    label = "api"
    verbose_name = "REST API"
