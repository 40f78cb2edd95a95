"""Settings for the test suite: the app's own settings in "test" mode."""

import os

os.environ["KETAFLOW_ENV"] = "test"

from ketaflow.settings import *
from ketaflow.settings import DATABASES

# Every prepared read (ketaflow.prepared) is compared with the statement Django compiles for the
# same values, on every call of the whole suite.
KETAFLOW_PREPARED_CHECK = True

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

# Passwords: MD5 first, for the tests only (every test's world makes six users, the demo thirteen;
# ketaflow.settings' cheapest Argon2 took 13 ms a hash on the shared CI machine, MD5 0.8 ms). The
# test Argon2 stays second, so that a hash made by a subprocess in test mode still checks.
# test_settings.py checks that the app's own settings hash with Argon2.
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.MD5PasswordHasher",
    "ketaflow.accounts.hashers.TestArgon2PasswordHasher",
]
