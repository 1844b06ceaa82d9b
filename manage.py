#!/usr/bin/env python
"""Django's command-line utility for rtcc."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rtcc.settings")
    # A command opens one connection and ends: a pool of them buys it nothing, and when the
    # database cannot be reached it waited the pool's 10 s and said only "couldn't get a
    # connection", the cause in the pool's warnings above the traceback.
    os.environ.setdefault("RTCC_DB_POOL_SIZE", "0")
    from django.core.management import execute_from_command_line
    from django.db import connections
    from django.db.utils import OperationalError

    try:
        execute_from_command_line(sys.argv)
    except OperationalError as exc:
        if any(conn.connection is not None for conn in connections.all(initialized_only=True)):
            raise  # connected, then failed: the traceback says where
        # Never connected (`migrate` before PostgreSQL is up, a wrong host or password): one line.
        cause = " ".join(line.strip() for line in str(exc).splitlines() if line.strip())
        raise SystemExit(f"rtcc: cannot reach the database: {cause}") from None


if __name__ == "__main__":
    main()
