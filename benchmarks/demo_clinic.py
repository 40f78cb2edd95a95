"""The demo clinic in a scratch SQLite database, for the page benchmarks (chart_render.py,
infusion_page.py): a temporary ``KETAFLOW_VAR_DIR`` (or ``var_dir``, kept and reused), Django
set up, migrated, and the demo loaded (``demo_load`` adds nothing to a database that holds it
already, in a fraction of a second). Given a
``database_url`` (an empty PostgreSQL database, say), the demo goes there instead."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]


def demo_clinic(var_dir: str | None, *, prefix: str, database_url: str | None = None) -> None:
    scratch = var_dir or tempfile.mkdtemp(prefix=prefix)
    Path(scratch).mkdir(parents=True, exist_ok=True)
    os.environ["KETAFLOW_VAR_DIR"] = scratch
    if database_url:
        os.environ["DATABASE_URL"] = database_url
    else:
        os.environ.pop("DATABASE_URL", None)
    os.environ.setdefault("KETAFLOW_STAFF_SECOND_FACTOR", "optional")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ketaflow.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from ketaflow.web.demo import demo_load

    demo_load()
