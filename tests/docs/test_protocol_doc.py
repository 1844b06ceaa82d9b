"""docs/protocol.md is the contract document: every API path rtcc serves is in it, with the
websocket routes, and it points at nothing outside the repository."""

from __future__ import annotations

import os
import re
from pathlib import Path

from drf_spectacular.generators import SchemaGenerator

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "protocol.md"
PLACEHOLDER = re.compile(r"\{[^}/]*\}")


def _normalized(path: str) -> str:
    """`/api/v1/devices/{device_id}/commands` and `/api/v1/devices/{id}/commands` read the same."""
    return PLACEHOLDER.sub("{}", path)


def _doc_paths(text: str) -> set[str]:
    found = re.findall(r"/api/v1/[A-Za-z0-9_./{}-]*", text)
    return {_normalized(path.rstrip(".")) for path in found}


def test_every_api_path_is_documented():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    documented = _doc_paths(DOC.read_text())
    served = sorted(path for path in schema["paths"] if path.startswith("/api/v1/"))
    assert len(served) > 30  # the schema really lists the API
    missing = [path for path in served if _normalized(path) not in documented]
    assert not missing, f"docs/protocol.md does not document: {', '.join(missing)}"


def test_websockets_and_service_endpoints_are_documented():
    from rtcc.routing import websocket_urlpatterns

    text = DOC.read_text()
    assert len(websocket_urlpatterns) >= 2
    for route in websocket_urlpatterns:
        assert f"/{route.pattern}" in text
    for path in ("/healthz", "/readyz", "/api/schema/", "/api/docs/"):
        assert path in text


def test_docs_name_nothing_outside_the_repository():
    for doc in (ROOT / "docs").glob("*.md"):
        text = doc.read_text()
        assert os.pardir + "/" not in text, f"{doc.name} has a relative path leaving docs/"
        assert "/work/" not in text and "PROTOCOL.md" not in text, f"{doc.name} names a file outside the repository"
