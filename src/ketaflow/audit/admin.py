"""The audit trail is not in the administration: it is read, per clinic, on the audit pages
(``ketaflow.audit.views``), and nothing may change it."""
