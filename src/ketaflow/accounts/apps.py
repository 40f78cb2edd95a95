from importlib import import_module

from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "ketaflow.accounts"
    label = "accounts"
    verbose_name = "Clinic, staff and roles"

    def ready(self) -> None:
        import_module("ketaflow.accounts.signals")  # login, logout and failed-login audit
        import_module("ketaflow.accounts.signin")  # lockouts audited
        import_module("ketaflow.accounts.sessions")  # each login's session recorded
