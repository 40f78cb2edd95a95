"""The backup key: its own key, never the app's secret key or audit key."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings

from ketaflow.backup.archive import BackupError
from ketaflow.backup.crypto import key_parse


def backup_key(key_file: str | None = None) -> bytes:
    """The key from ``key_file`` (``--key-file``), else ``KETAFLOW_BACKUP_KEY``, else
    ``KETAFLOW_BACKUP_KEY_FILE``; refused when missing, malformed or one of the app's keys."""
    if key_file:
        text, source = _read(Path(key_file), "--key-file"), "--key-file"
    elif settings.BACKUP_KEY:
        text, source = settings.BACKUP_KEY, "KETAFLOW_BACKUP_KEY"
    elif settings.BACKUP_KEY_FILE:
        text = _read(Path(settings.BACKUP_KEY_FILE), "KETAFLOW_BACKUP_KEY_FILE")
        source = "KETAFLOW_BACKUP_KEY_FILE"
    else:
        raise BackupError(
            "no backup key: set KETAFLOW_BACKUP_KEY or KETAFLOW_BACKUP_KEY_FILE, or give "
            "--key-file (make one with `ketaflow backup keygen`)"
        )
    key_problem = separate_key_problem(text)
    if key_problem:
        raise BackupError(f"{source}: {key_problem}")
    return key_parse(text, source=source)


def separate_key_problem(text: str) -> str | None:
    """Why ``text`` may not be the backup key (it is, or holds, one of the app's keys)."""
    text = text.strip()
    for name, other in (
        ("the secret key", settings.SECRET_KEY),
        ("the audit key", settings.AUDIT_HMAC_KEY),
    ):
        if other and (text == other or other in text):
            return f"the backup key must be its own key, not {name}"
    return None


def configured() -> bool:
    return bool(settings.BACKUP_KEY or settings.BACKUP_KEY_FILE)


def _read(path: Path, source: str) -> str:
    try:
        return path.read_text()
    except OSError as exc:
        raise BackupError(f"{source} {path}: cannot read it ({exc.strerror})") from None
