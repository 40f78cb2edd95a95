from importlib import import_module

from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "ketaflow.accounts"
    label = "accounts"
    verbose_name = "Clinic, staff and roles"

    def ready(self) -> None:
        import_module("ketaflow.accounts.signals")  # login, logout and failed-login audit
