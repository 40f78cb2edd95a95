from django.apps import AppConfig


class BackupConfig(AppConfig):
    name = "ketaflow.backup"
    label = "backup"
    verbose_name = "Backups and health"
