"""Reinstall the ledger's append-only triggers.

On SQLite, migration 0003 changed a check constraint of ``ledger_ledgerentry``, which SQLite
does by rebuilding the table (create a copy, move the rows, drop the old one): the triggers of
0002 went with the old table. PostgreSQL alters the table in place and kept them; installing
them again there is harmless (``CREATE OR REPLACE``, ``DROP TRIGGER IF EXISTS``).
``tests/audit/test_tamper.py`` checks after all migrations that every registered table refuses
UPDATE and DELETE, so a later rebuild cannot drop them silently.
"""

from typing import Any

from django.db import migrations

from ketaflow.audit.db import install_triggers, register_append_only
from ketaflow.ledger.apps import APPEND_ONLY_MESSAGE, APPEND_ONLY_TABLES


def forwards(apps: Any, schema_editor: Any) -> None:
    for table in APPEND_ONLY_TABLES:
        register_append_only(table, prefix=table, message=APPEND_ONLY_MESSAGE)
    install_triggers(schema_editor.connection, tables=APPEND_ONLY_TABLES)


class Migration(migrations.Migration):
    dependencies = [("ledger", "0003_administration_from_a_draw")]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
