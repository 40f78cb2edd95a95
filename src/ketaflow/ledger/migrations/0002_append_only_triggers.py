from typing import Any

from django.db import migrations

from ketaflow.audit.db import drop_triggers, install_triggers, register_append_only
from ketaflow.ledger.apps import APPEND_ONLY_TABLES, APPEND_ONLY_MESSAGE


def _register() -> None:
    for table in APPEND_ONLY_TABLES:
        register_append_only(table, prefix=table, message=APPEND_ONLY_MESSAGE)


def forwards(apps: Any, schema_editor: Any) -> None:
    _register()
    install_triggers(schema_editor.connection, tables=APPEND_ONLY_TABLES)


def backwards(apps: Any, schema_editor: Any) -> None:
    _register()
    drop_triggers(schema_editor.connection, tables=APPEND_ONLY_TABLES)


class Migration(migrations.Migration):
    dependencies = [("ledger", "0001_initial")]
    operations = [migrations.RunPython(forwards, backwards)]
