from typing import Any

from django.db import migrations

from ketaflow.audit.db import drop_triggers, install_triggers


def forwards(apps: Any, schema_editor: Any) -> None:
    install_triggers(schema_editor.connection)


def backwards(apps: Any, schema_editor: Any) -> None:
    drop_triggers(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [("audit", "0001_initial")]
    operations = [migrations.RunPython(forwards, backwards)]
