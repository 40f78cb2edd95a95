from django.apps import AppConfig

# The ledger's tables that the database keeps append-only (triggers, migration 0002; 0004
# reinstalls them on SQLite, where 0003 rebuilt ledger_ledgerentry without them).
APPEND_ONLY_TABLES = (
    "ledger_ledgerentry",
    "ledger_receipt",
    "ledger_count",
    "ledger_countline",
    "ledger_inventory",
    "ledger_inventoryline",
)
APPEND_ONLY_MESSAGE = "ledger records are append-only"


class LedgerConfig(AppConfig):
    name = "ketaflow.ledger"
    label = "ledger"
    verbose_name = "Controlled-substance ledger"

    def ready(self) -> None:
        from ketaflow.audit.checkpoints import register_chains
        from ketaflow.audit.db import register_append_only
        from ketaflow.ledger.verify import ledger_chains

        register_chains(ledger_chains)

        for table in APPEND_ONLY_TABLES:
            register_append_only(
                table,
                prefix=table,
                message=APPEND_ONLY_MESSAGE,
            )
