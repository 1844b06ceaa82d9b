"""The OpenAPI schema names the refusals a client generated from it must handle."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def test_every_operation_names_503_and_every_post_names_413_and_415(anon):
    """A camera's firmware generated from the schema retries a 503 (the store away mid-upload),
    and a form body sent to an endpoint that reads none (a clip's complete, a briefing's ack) is a
    415 it must know of."""
    paths = anon.get("/api/schema/", HTTP_ACCEPT="application/json").json()["paths"]
    for path, item in paths.items():
        for method, operation in item.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            assert "503" in operation["responses"], f"{method} {path}"
            if method in ("post", "put", "patch"):
                assert {"413", "415"} <= set(operation["responses"]), f"{method} {path}"
    complete = paths["/api/v1/clips/{clip_id}/complete"]["post"]["responses"]
    assert complete["503"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
