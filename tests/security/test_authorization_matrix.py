"""Kept fixed, in CI: the authorization matrix. Every operation in the OpenAPI schema is called as
anonymous, each role, a superuser and each device kind, against one declared policy table; an
operation without a row (or a row for an operation that no longer exists) fails the test.

Allowed: anything but 401/403 (with made-up ids and empty bodies that is mostly 400 or 404).
Denied: 401 for anonymous, 403 for everyone else. Object-level rules (another officer's clip,
a briefing not sent to you) are tested per feature, not here.
"""

from __future__ import annotations

import pytest

from tests.security.authz_probe import PRINCIPALS, call, make_principals

PUBLIC = set(PRINCIPALS)
PEOPLE = {"officer", "operator", "clerk", "it", "superuser"}

# operation -> who may call it. A superuser acts as IT (never as an operator).
POLICY: dict[str, set[str]] = {
    "POST /api/v1/auth/logout": PEOPLE,
    "POST /api/v1/auth/token": PUBLIC,
    "GET /api/v1/briefings": {"officer", "operator", "phone"},
    "POST /api/v1/briefings": {"operator"},
    "GET /api/v1/briefings/{briefing_id}": {"officer", "operator", "phone"},
    "POST /api/v1/briefings/{briefing_id}/ack": {"officer", "phone"},
    "GET /api/v1/briefings/{briefing_id}/deliveries": {"officer", "operator", "phone"},
    "POST /api/v1/briefings/preview": {"operator"},
    "GET /api/v1/cases/{case_number}/manifest": {"clerk"},
    "GET /api/v1/categories": PEOPLE,
    "POST /api/v1/categories": {"clerk"},
    "GET /api/v1/clips": {"officer", "operator", "clerk"},
    "POST /api/v1/clips": {"bodycam", "phone"},
    "GET /api/v1/clips/{clip_id}": {"officer", "operator", "clerk"},
    "PATCH /api/v1/clips/{clip_id}": {"clerk"},
    "POST /api/v1/clips/{clip_id}/access": {"officer", "clerk"},
    "POST /api/v1/clips/{clip_id}/complete": {"bodycam", "phone"},
    "GET /api/v1/clips/{clip_id}/custody": {"clerk"},
    "POST /api/v1/clips/{clip_id}/hold": {"clerk"},
    "DELETE /api/v1/clips/{clip_id}/hold": {"clerk"},
    "POST /api/v1/clips/{clip_id}/parts": {"bodycam", "phone"},
    "POST /api/v1/clips/{clip_id}/purge": {"clerk"},
    "GET /api/v1/clips/{clip_id}/upload": {"bodycam", "phone"},
    "GET /api/v1/commands/{command_id}": {"operator"},
    "POST /api/v1/commands/{command_id}/cancel": {"operator"},
    "GET /api/v1/device": {"bodycam", "phone"},
    "PUT /api/v1/device/push-token": {"phone"},
    "GET /api/v1/devices": {"officer", "operator", "it", "superuser"},
    "POST /api/v1/devices": {"it", "superuser"},
    "GET /api/v1/devices/{device_id}": {"officer", "operator", "it", "superuser"},
    "POST /api/v1/devices/{device_id}/assign": {"it", "superuser"},
    "GET /api/v1/devices/{device_id}/assignments": {"operator", "it", "superuser"},
    "GET /api/v1/devices/{device_id}/commands": {"operator"},
    "POST /api/v1/devices/{device_id}/commands": {"operator"},
    "POST /api/v1/devices/{device_id}/enrollment": {"it", "superuser"},
    "POST /api/v1/devices/{device_id}/revoke": {"it", "superuser"},
    "POST /api/v1/devices/{device_id}/unassign": {"it", "superuser"},
    "POST /api/v1/enroll": PUBLIC,
    "GET /api/v1/incidents": {"officer", "operator"},
    "POST /api/v1/incidents": {"operator"},
    "GET /api/v1/incidents/{incident_id}": {"officer", "operator"},
    "POST /api/v1/incidents/{incident_id}/officers": {"operator"},
    "GET /api/v1/me": PEOPLE,
    "GET /api/v1/me/briefings": {"officer", "phone"},
    "POST /api/v1/me/mfa": PEOPLE,
    "DELETE /api/v1/me/mfa": PEOPLE,
    "POST /api/v1/me/mfa/confirm": PEOPLE,
    "GET /api/v1/me/outbox": {"officer", "phone"},
    "POST /api/v1/media": {"operator"},
    "GET /api/v1/media/{media_id}": {"officer", "operator", "phone"},
    "GET /api/v1/media/{media_id}/image": {"officer", "operator", "phone"},
    "GET /api/v1/media/{media_id}/thumbnail": {"officer", "operator", "phone"},
    # Live view: operators only (a superuser acts as IT; nobody else may watch).
    "GET /api/v1/devices/{device_id}/live": {"operator"},
    "POST /api/v1/devices/{device_id}/live": {"operator"},
    "GET /api/v1/live": {"operator"},
    "GET /api/v1/live/{live_id}": {"operator"},
    "GET /api/v1/live/{live_id}/playlist.m3u8": {"operator"},
    "PUT /api/v1/live/{live_id}/segments/{name}": {"bodycam", "phone"},
    "POST /api/v1/live/{live_id}/stop": {"operator"},
    # ALPR, leads, outcomes.
    "DELETE /api/v1/hotlists/{hotlist_id}/entries/{entry_id}": {"operator", "it", "superuser"},
    "GET /api/v1/assists": {"operator", "clerk"},
    "GET /api/v1/assists/suggestions": {"operator", "clerk"},
    "GET /api/v1/assists/{assist_id}": {"operator", "clerk"},
    "GET /api/v1/hits": {"operator"},
    "GET /api/v1/hits/{hit_id}": {"operator"},
    "GET /api/v1/hotlists": {"operator", "it", "superuser"},
    "GET /api/v1/hotlists/{hotlist_id}": {"operator", "it", "superuser"},
    "GET /api/v1/hotlists/{hotlist_id}/entries": {"operator", "it", "superuser"},
    "GET /api/v1/hotlists/{hotlist_id}/entries/{entry_id}": {"operator", "it", "superuser"},
    "GET /api/v1/leads": {"operator", "clerk"},
    "GET /api/v1/leads/{lead_id}": {"operator", "clerk"},
    "GET /api/v1/leads/{lead_id}/related": {"operator", "clerk"},
    "GET /api/v1/plate-reads": {"operator", "clerk"},
    "GET /api/v1/plate-reads/{read_id}/image": {"operator", "clerk"},
    "GET /api/v1/stats/outcomes": {"operator", "clerk", "it", "superuser"},
    "GET /api/v1/transparency": PUBLIC,
    "PATCH /api/v1/assists/{assist_id}": {"operator"},
    "POST /api/v1/assists": {"operator"},
    "POST /api/v1/assists/suggestions/{briefing_id}/dismiss": {"operator"},
    "POST /api/v1/hits/{hit_id}/brief": {"operator"},
    "POST /api/v1/hits/{hit_id}/brief/preview": {"operator"},
    "POST /api/v1/hits/{hit_id}/confirm": {"operator"},
    "POST /api/v1/hits/{hit_id}/reject": {"operator"},
    "POST /api/v1/hotlists": {"operator", "it", "superuser"},
    "POST /api/v1/hotlists/{hotlist_id}/entries": {"operator", "it", "superuser"},
    "POST /api/v1/hotlists/{hotlist_id}/import": {"operator", "it", "superuser"},
    "POST /api/v1/leads": {"operator"},
    "POST /api/v1/leads/{lead_id}/review": {"operator"},
    "POST /api/v1/leads/{lead_id}/share": {"operator"},
    "POST /api/v1/plate-reads": set(),  # plate readers (alpr devices) only
    "POST /api/v1/plate-reads/openalpr": set(),  # plate readers only
    "POST /api/v1/plate-reads/platerecognizer": set(),  # plate readers only
    "GET /api/v1/users": {"it", "superuser"},
    "POST /api/v1/users": {"it", "superuser"},
    "GET /api/v1/users/{user_id}": {"it", "superuser"},
    "PATCH /api/v1/users/{user_id}": {"it", "superuser"},
    "DELETE /api/v1/users/{user_id}/mfa": {"it", "superuser"},
}


def schema_operations(anon) -> list[str]:
    schema = anon.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    return sorted(
        f"{method.upper()} {path}"
        for path, item in schema["paths"].items()
        for method in item
        if method in ("get", "post", "put", "patch", "delete")
    )


@pytest.mark.django_db
def test_every_operation_has_a_row_and_every_row_an_operation(anon):
    operations = set(schema_operations(anon))
    assert sorted(operations - set(POLICY)) == [], "operations without a row in POLICY"
    assert sorted(set(POLICY) - operations) == [], "rows for operations the schema no longer has"


@pytest.mark.django_db
def test_every_operation_answers_each_principal_as_the_policy_says(make_user, anon):
    clients = make_principals(make_user)
    wrong = []
    for operation in schema_operations(anon):
        method, path = operation.split(" ", 1)
        allowed = POLICY.get(operation, set())
        for who in PRINCIPALS:
            status = call(clients[who], method, path).status_code
            expected_denial = 401 if who == "anonymous" else 403
            ok = status not in (401, 403) if who in allowed else status == expected_denial
            if not ok:
                wrong.append(f"{operation} as {who}: {status} ({'allowed' if who in allowed else 'denied'})")
    assert wrong == []
