"""Test helpers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ketaflow.backup import archive
from ketaflow.cli import main


def snapshot_of_every_table() -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every backed-up table, as the models read it."""
    return {
        model._meta.db_table: list(
            model._base_manager.order_by("pk").values_list(
                *[f.attname for f in model._meta.concrete_fields]
            )
        )
        for model in archive.backed_up_models()
    }


def backup(path: Path, key_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["backup", "create", str(path), "--key-file", str(key_file)]) == 0
    assert "encrypted" in capsys.readouterr().out


def refused(args: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    assert main(args) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert len(captured.err.strip().splitlines()) == 1, captured.err
    return captured.err
