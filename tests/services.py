"""Finding the real services a test needs. In CI a missing service fails the test; on a
developer's machine it skips with a message saying what to start."""

from __future__ import annotations

import os

import pytest

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}

# What each service needs from the environment (infra/dev.py test sets all of these).
SERVICES = {
    "postgres": ("DATABASE_URL",),
    "redis": ("REDIS_URL",),
    "s3": ("RTCC_S3_BUCKET", "AWS_ENDPOINT_URL_S3"),
    "fcm": ("RTCC_FCM_ENDPOINT", "GOOGLE_APPLICATION_CREDENTIALS"),
}


def require(service: str) -> None:
    missing = [name for name in SERVICES[service] if not os.environ.get(name)]
    if service == "postgres" and not missing and not os.environ["DATABASE_URL"].startswith("postgres"):
        missing = ["DATABASE_URL=postgres://..."]
    if not missing:
        return
    message = f"this test needs {service} ({', '.join(missing)} not set); run it with `python3 infra/dev.py test`"
    if IN_CI:
        pytest.fail(message, pytrace=False)
    pytest.skip(message)
