"""Production's static files: `ketaflow serve` collects them only when their sources changed (a
restart of an unchanged install must not spend tens of seconds recompressing), and the collect
keeps only the hashed names the pages link to. CI found serve taking over 60 s to listen once
brotli was installed: every start recompressed every file at brotli's highest quality."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.test import override_settings

from ketaflow.cli.web import collect_static

MANIFEST_ONLY = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # The same hashing and manifest as production's storage, without its compression (slow).
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"},
}


@pytest.fixture
def static_setup(tmp_path: Path) -> Path:
    sources = tmp_path / "sources"
    sources.mkdir()
    (sources / "clinic-note.css").write_text("body { color: black; }\n")
    return tmp_path


def test_a_restart_with_the_same_sources_does_not_collect_again(static_setup: Path) -> None:
    root = static_setup / "static"
    sources = static_setup / "sources"
    with override_settings(
        STATIC_ROOT=root,
        VAR_DIR=static_setup,
        STORAGES=MANIFEST_ONLY,
        STATICFILES_DIRS=[sources],
    ):
        assert collect_static() is True
        assert (root / "staticfiles.json").exists()
        assert collect_static() is False  # unchanged: nothing to do

        (sources / "clinic-note.css").write_text("body { color: navy; }\n")
        assert collect_static() is True  # a changed file is collected
        assert collect_static() is False

        (root / "staticfiles.json").unlink()
        assert collect_static() is True  # a removed collect is rebuilt, whatever the stamp says
        paths = json.loads((root / "staticfiles.json").read_text())["paths"]
        assert "navy" in (root / paths["clinic-note.css"]).read_text()


def test_production_keeps_only_hashed_names_and_skips_source_maps() -> None:
    from django.conf import settings

    assert settings.WHITENOISE_KEEP_ONLY_HASHED_FILES is True
    assert "map" in settings.WHITENOISE_SKIP_COMPRESS_EXTENSIONS
    assert "png" in settings.WHITENOISE_SKIP_COMPRESS_EXTENSIONS  # whitenoise's own list kept
