"""Bench-only settings for `bench/command_latency.py --db-pool`: rtcc's settings with psycopg's
connection pool (Django >= 5.1 "pool" option), to show what pooled connections change."""

from rtcc.settings import *  # noqa: F403
from rtcc.settings import DATABASES

DATABASES["default"] = {
    **DATABASES["default"],
    "CONN_MAX_AGE": 0,
    "OPTIONS": {**DATABASES["default"].get("OPTIONS", {}), "pool": {"min_size": 4, "max_size": 64, "timeout": 30}},
}
