"""The audit trail has no admin page: the admin site is not scoped to a clinic, so it would show
every clinic's entries. Directors read their clinic's trail on the audit page (``audit_list``)."""
