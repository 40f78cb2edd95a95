"""Logging filters."""

from __future__ import annotations

import logging


class OneLineClientErrors(logging.Filter):
    """A refused request (403, 404 and other 4xx) is logged as one line, without the traceback
    Django attaches: a refusal is the app working, and a log full of tracebacks hides the
    server errors (5xx), which keep theirs."""

    def filter(self, record: logging.LogRecord) -> bool:
        status = getattr(record, "status_code", None)
        if isinstance(status, int) and 400 <= status < 500:
            record.exc_info = None
            record.exc_text = None
            record.stack_info = None
        return True
