"""Settings for the test suite: the app's own settings in "test" mode."""

import os

os.environ["KETAFLOW_ENV"] = "test"

from ketaflow.settings import *
