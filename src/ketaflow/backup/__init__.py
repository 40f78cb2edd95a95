"""Encrypted backups that restore and verify, the scheduled backup, health and checks."""
