"""Devices test helpers: registered and enrolled devices, and API clients for every caller."""

from __future__ import annotations

import itertools

import pytest

from tests.helpers import api_client

# Every kind of caller an endpoint may meet: the four roles, a superuser, nobody, both device kinds.
CALLERS = ["officer", "operator", "clerk", "it", "superuser", "anonymous", "bodycam", "phone"]


def answers(default: int = 403, **named: int) -> dict[str, int]:
    """The status each of CALLERS gets from an endpoint: those named get theirs, nobody 401,
    every other caller `default` (403: signed in, not allowed)."""
    table = dict.fromkeys(CALLERS, default)
    table["anonymous"] = 401
    table.update(named)
    return table


_serials = itertools.count(1)


@pytest.fixture
def register(db):
    """register(kind="bodycam", **fields) -> (device, enrollment_code), through the service."""
    from apps.devices import services

    def make(kind: str = "bodycam", **fields):
        serial = fields.pop("serial", f"T-{kind[:2].upper()}-{next(_serials):05d}")
        return services.device_register(kind=kind, serial=serial, **fields)

    return make


@pytest.fixture
def enrolled(register):
    """enrolled(kind="bodycam", **fields) -> (device, token): registered and enrolled."""
    from apps.devices import services

    def make(kind: str = "bodycam", **fields):
        device, code = register(kind, **fields)
        device, token = services.device_enroll(serial=device.serial, code=code)
        return device, token

    return make


@pytest.fixture
def caller(personas, superuser, enrolled):
    """caller(name) -> APIClient acting as one of CALLERS."""

    def make(name: str):
        if name == "anonymous":
            return api_client()
        if name in ("bodycam", "phone"):
            _, token = enrolled(name)
            return api_client(token=token)
        if name == "superuser":
            return api_client(superuser)
        return api_client(personas[name])

    return make
