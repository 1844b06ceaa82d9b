"""Shared by the authorization matrix: principals, and one call of an operation as one of them."""

from __future__ import annotations

import re
import uuid

from tests.helpers import api_client

PRINCIPALS = ("anonymous", "officer", "operator", "clerk", "it", "superuser", "bodycam", "phone")


def make_principals(make_user) -> dict:
    from tests.control.conftest import create_device

    people = {role: make_user(role) for role in ("officer", "operator", "clerk", "it")}
    people["superuser"] = make_user("it", is_superuser=True, is_staff=True)
    # A fresh client (and token) per call: an operation such as logout must not spoil the next.
    clients = {name: (lambda user=user: api_client(user)) for name, user in people.items()}
    clients["anonymous"] = api_client
    for kind in ("bodycam", "phone"):
        token = create_device(kind=kind, officer=people["officer"]).token
        clients[kind] = lambda token=token: api_client(token=token)
    return clients


def call(make_client, method: str, path: str):
    client = make_client()
    url = re.sub(r"\{[^}]+\}", lambda m: "2025-0001" if "case" in m.group(0) else str(uuid.uuid4()), path)
    if method == "GET":
        return client.get(url)
    return getattr(client, method.lower())(url, {}, format="json")
