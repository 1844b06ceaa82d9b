"""Keeping the log readable for whoever reads it at 3 a.m.: one line per event, not a line and a
traceback.

Some errors are logged where they happen, in a line that says what they mean, and then raised on
only so that the server acts on them: a device socket whose channel layer is down ends with the
layer's error so that daphne closes it with 1011 (apps/control/consumers.py). Daphne then logs
"Exception inside application" with the whole traceback, once per socket: a Redis outage with a
fleet reconnecting filled the log with them. Such errors are raised as AlreadyLogged, and
DropAlreadyLogged (a filter on daphne's logger, rtcc/settings) leaves them out.

Others are expected and answered, not faults: a request with a Host the site does not serve (a
scanner, a misconfigured proxy) is a 400, and Django logs it as an ERROR with the whole traceback.
OneLine keeps the line and drops the traceback, as a warning.
"""

from __future__ import annotations

import logging


class AlreadyLogged(Exception):
    """An error already logged, in a line of its own, by the code that raises it."""


class DropAlreadyLogged(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        return not isinstance(error, AlreadyLogged)


class OneLine(logging.Filter):
    """The record as one warning line: no traceback (an expected, answered error)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.exc_info, record.exc_text = None, None
        if record.levelno > logging.WARNING:
            record.levelno, record.levelname = logging.WARNING, logging.getLevelName(logging.WARNING)
        return True
