"""Settings for the test suite: the app's own settings in "test" mode."""

import os

os.environ["KETAFLOW_ENV"] = "test"

from ketaflow.settings import *
from ketaflow.settings import DATABASES

# SQLite tests use a database file, not Django's shared-cache in-memory database: in shared-cache
# mode a second writer fails at once ("database table is locked") instead of waiting for the
# first, so a live-server page and its chart image, both writing their audit entries, raced
# (a browser test failed on it). A file keeps the app's real locking: IMMEDIATE transactions that
# wait up to the timeout. pytest-django gives each xdist worker its own file.
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    import tempfile

    DATABASES["default"]["TEST"] = {
        "NAME": os.path.join(tempfile.gettempdir(), f"ketaflow-test-{os.getpid()}.sqlite3")
    }
