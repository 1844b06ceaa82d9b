#!/usr/bin/env python3
"""rtcc's stand-in for Firebase Cloud Messaging (HTTP v1), for tests, benchmarks and the demo.

It speaks FCM's wire format (URLs, JSON bodies, error envelopes with FcmError and BadRequest
details, Retry-After), remembers every message it accepted so a test can read what a phone
would have been sent, and can be told to fail. Needs aiohttp only; never touches the internet.

    python infra/fakes/fcm_server.py --port 8089                          # serve
    python infra/fakes/fcm_server.py credentials --port 8089 > sa.json    # service account for it

Point rtcc at it with RTCC_FCM_ENDPOINT=http://127.0.0.1:8089 and
GOOGLE_APPLICATION_CREDENTIALS=sa.json (the file's token_uri is this server's /token).

A registration token's prefix decides what happens to a message sent to it:

    unreg-     404 NOT_FOUND           FcmError UNREGISTERED          (uninstalled app)
    invalid-   400 INVALID_ARGUMENT    FcmError INVALID_ARGUMENT      (not a token)
    mismatch-  403 PERMISSION_DENIED   FcmError SENDER_ID_MISMATCH
    flaky-     503 UNAVAILABLE         FcmError UNAVAILABLE, first try per token only
    quota-     429 RESOURCE_EXHAUSTED  FcmError QUOTA_EXCEEDED, Retry-After: 1, first try only
    (other)    accepted: {"name": "projects/P/messages/N"}

A malformed message (not exactly one target, non-string data values, data over 4096 bytes,
an unknown android priority) gets 400 INVALID_ARGUMENT with a google.rpc.BadRequest detail
and no FcmError: the payload is at fault, not the token.

Not part of FCM, for the caller's eyes only:

    GET  /_messages[?token=T]   accepted messages, oldest first
    GET  /_stats                {"counts": {...}, "first_at", "last_at", "faults"} (time.monotonic())
    POST /_reset                forget everything, clear the faults
    POST /_faults               {"latency_ms": int, "unavailable_rate": 0..1, "outage": bool}
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import secrets
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field

try:
    from aiohttp import web
except ImportError:  # pragma: no cover - stated plainly rather than as a traceback
    sys.exit("infra/fakes/fcm_server.py needs aiohttp (pip install aiohttp)")

FCM_ERROR = "type.googleapis.com/google.firebase.fcm.v1.FcmError"
BAD_REQUEST = "type.googleapis.com/google.rpc.BadRequest"
DATA_LIMIT = 4096
PRIORITIES = ("normal", "high", "NORMAL", "HIGH")  # a tuple: an unhashable priority is unknown, not a 500


@dataclass(frozen=True)
class Refusal:
    """One way FCM says no: HTTP status, google.rpc status, message, FcmError code."""

    http: int
    status: str
    text: str
    fcm_code: str | None = None
    retry_after: int | None = None
    first_try_only: bool = False
    counter: str = ""


# token prefix -> what FCM answers for it
BY_PREFIX: dict[str, Refusal] = {
    "unreg-": Refusal(404, "NOT_FOUND", "Requested entity was not found.", "UNREGISTERED", counter="unregistered"),
    "invalid-": Refusal(
        400,
        "INVALID_ARGUMENT",
        "The registration token is not a valid FCM registration token",
        "INVALID_ARGUMENT",
        counter="invalid",
    ),
    "mismatch-": Refusal(403, "PERMISSION_DENIED", "SenderId mismatch", "SENDER_ID_MISMATCH", counter="mismatch"),
    "flaky-": Refusal(
        503,
        "UNAVAILABLE",
        "The service is currently unavailable.",
        "UNAVAILABLE",
        first_try_only=True,
        counter="unavailable",
    ),
    "quota-": Refusal(
        429,
        "RESOURCE_EXHAUSTED",
        "Quota exceeded.",
        "QUOTA_EXCEEDED",
        retry_after=1,
        first_try_only=True,
        counter="quota",
    ),
}
UNAVAILABLE = BY_PREFIX["flaky-"]


def default_faults() -> dict:
    return {"latency_ms": 0, "unavailable_rate": 0.0, "outage": False}


@dataclass
class Ledger:
    """Everything the fake remembers between requests."""

    accepted: list[dict] = field(default_factory=list)
    per_token: dict[str, list[dict]] = field(default_factory=lambda: defaultdict(list))
    attempts: Counter = field(default_factory=Counter)
    counts: Counter = field(default_factory=Counter)
    first_at: float | None = None
    last_at: float | None = None
    serial: int = 0
    faults: dict = field(default_factory=default_faults)

    def accept(self, project: str, token: str, message: dict, validate_only: bool) -> str:
        self.serial += 1
        name = f"projects/{project}/messages/{self.serial}"
        if validate_only:
            return name
        now = time.monotonic()
        entry = {"name": name, "at": now, "validate_only": False, "message": message}
        self.accepted.append(entry)
        if token:
            self.per_token[token].append(entry)
        self.counts["accepted"] += 1
        if self.first_at is None:
            self.first_at = now
        self.last_at = now
        return name


def refuse(refusal: Refusal, text: str | None = None) -> web.Response:
    return envelope(
        refusal.http, refusal.status, text or refusal.text, fcm_code=refusal.fcm_code, retry=refusal.retry_after
    )


def envelope(
    http: int, status: str, text: str, *, fcm_code: str | None = None, field_name: str | None = None, retry=None
) -> web.Response:
    details: list[dict] = []
    if fcm_code:
        details.append({"@type": FCM_ERROR, "errorCode": fcm_code})
    if field_name:
        details.append({"@type": BAD_REQUEST, "fieldViolations": [{"field": field_name, "description": text}]})
    headers = {"Retry-After": str(retry)} if retry else None
    body = {"error": {"code": http, "message": text, "status": status, "details": details}}
    return web.json_response(body, status=http, headers=headers)


def malformed(message: dict) -> tuple[str, str] | None:
    """(field, why) when FCM would reject the message itself as INVALID_ARGUMENT."""
    targets = [key for key in ("token", "fid", "topic", "condition") if message.get(key)]
    if len(targets) != 1:
        return "message", "exactly one of token, fid, topic or condition must be set"
    data = message.get("data") or {}
    if not isinstance(data, dict) or not all(isinstance(value, str) for value in data.values()):
        return "message.data", "data values must be strings"
    if len(json.dumps(data).encode()) > DATA_LIMIT:
        return "message.data", f"data payload is over {DATA_LIMIT} bytes"
    priority = (message.get("android") or {}).get("priority")
    if priority is not None and priority not in PRIORITIES:
        return "message.android.priority", "unknown priority"
    return None


class FakeFcm:
    def __init__(self) -> None:
        self.ledger = Ledger()

    # -- FCM itself --------------------------------------------------------------------------

    async def send(self, request: web.Request) -> web.Response:
        ledger = self.ledger
        delay = ledger.faults.get("latency_ms") or 0
        if delay:
            await asyncio.sleep(delay / 1000)
        if not request.headers.get("Authorization", "").startswith("Bearer "):
            return envelope(401, "UNAUTHENTICATED", "Request is missing required authentication credential.")
        if ledger.faults.get("outage") or random.random() < float(ledger.faults.get("unavailable_rate") or 0):
            ledger.counts["unavailable"] += 1
            return refuse(UNAVAILABLE)
        try:
            body = await request.json()
            message = body["message"]
            if not isinstance(message, dict):
                raise TypeError
        except Exception:
            ledger.counts["malformed"] += 1
            return envelope(400, "INVALID_ARGUMENT", "Invalid JSON payload received.", field_name="message")
        problem = malformed(message)
        if problem:
            ledger.counts["malformed"] += 1
            return envelope(400, "INVALID_ARGUMENT", problem[1], field_name=problem[0])

        token = message.get("token") or message.get("fid") or ""
        ledger.attempts[token] += 1
        for prefix, refusal in BY_PREFIX.items():
            if token.startswith(prefix) and (not refusal.first_try_only or ledger.attempts[token] == 1):
                ledger.counts[refusal.counter] += 1
                return refuse(refusal)
        name = ledger.accept(request.match_info["project"], token, message, bool(body.get("validate_only")))
        return web.json_response({"name": name})

    async def token(self, request: web.Request) -> web.Response:
        """The OAuth2 token exchange google-auth performs with the service account's JWT."""
        await request.read()
        self.ledger.counts["token_requests"] += 1
        return web.json_response(
            {"access_token": "fake-" + secrets.token_urlsafe(12), "expires_in": 3600, "token_type": "Bearer"}
        )

    # -- inspection and control ---------------------------------------------------------------

    async def messages(self, request: web.Request) -> web.Response:
        token = request.query.get("token")
        return web.json_response(self.ledger.per_token.get(token, []) if token else self.ledger.accepted)

    async def stats(self, request: web.Request) -> web.Response:
        ledger = self.ledger
        return web.json_response(
            {
                "counts": dict(ledger.counts),
                "first_at": ledger.first_at,
                "last_at": ledger.last_at,
                "faults": ledger.faults,
            }
        )

    async def reset(self, request: web.Request) -> web.Response:
        self.ledger = Ledger()
        return web.json_response({"ok": True})

    async def faults(self, request: web.Request) -> web.Response:
        try:
            update = await request.json()
        except ValueError:
            return web.json_response({"error": "a JSON object is expected"}, status=400)
        if not isinstance(update, dict):
            return web.json_response({"error": "a JSON object is expected"}, status=400)
        unknown = sorted(set(update) - set(default_faults()))
        if unknown:
            return web.json_response({"unknown": unknown}, status=400)
        self.ledger.faults.update(update)
        return web.json_response(self.ledger.faults)

    def app(self) -> web.Application:
        app = web.Application(client_max_size=1 << 20)
        app.add_routes(
            [
                web.post("/v1/projects/{project}/messages:send", self.send),
                web.post("/token", self.token),
                web.get("/_messages", self.messages),
                web.get("/_stats", self.stats),
                web.post("/_reset", self.reset),
                web.post("/_faults", self.faults),
            ]
        )
        return app


def make_app() -> web.Application:
    return FakeFcm().app()


def service_account(port: int, project: str, host: str = "127.0.0.1") -> dict:
    """A service-account JSON google-auth accepts, with its token exchange pointed at the fake."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return {
        "type": "service_account",
        "project_id": project,
        "private_key_id": "rtcc-fake-key",
        "private_key": pem,
        "client_email": f"rtcc-fake@{project}.iam.gserviceaccount.com",
        "client_id": "1",
        "token_uri": f"http://{host}:{port}/token",
        "universe_domain": "local.test",
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", nargs="?", choices=["serve", "credentials"], default="serve")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8089)
    parser.add_argument("--project", default="rtcc-local")
    args = parser.parse_args(argv)
    if args.command == "credentials":
        print(json.dumps(service_account(args.port, args.project, args.host), indent=2))
        return
    print(f"FCM fake on http://{args.host}:{args.port}", flush=True)
    web.run_app(make_app(), host=args.host, port=args.port, access_log=None, print=None)


if __name__ == "__main__":
    main()
