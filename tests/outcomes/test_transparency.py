"""The public transparency report: no login, counts that move when the counted things happen,
a window echoed (default the last 30 days), and never a name, a plate or a case number."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from apps.counters.models import Count
from tests.leads.conftest import fr_payload, jpeg, nibin_payload, upload

pytestmark = pytest.mark.django_db


def report(anon, query: str = "") -> dict:
    response = anon.get(f"/api/v1/transparency{query}")
    assert response.status_code == 200, response.content
    return response.json()


def test_the_shape_and_the_default_window(anon):
    body = report(anon)
    start = datetime.fromisoformat(body["from"].replace("Z", "+00:00"))
    end = datetime.fromisoformat(body["to"].replace("Z", "+00:00"))
    assert abs((end - datetime.now(UTC)).total_seconds()) < 60 and end - start == timedelta(days=30)
    assert body["remote_recording"] == {"start_recording": 0, "stop_recording": 0}
    assert body["plate_reads"] == {"received": 0, "deleted": 0}
    assert body["hits"] == {"new": 0, "confirmed": 0, "rejected": 0}
    assert set(body["leads"]) == {"facial_recognition", "nibin", "other"}
    assert body["leads"]["nibin"] == {"created": 0, "verified": 0, "rejected": 0}
    for key in ("live_views", "evidence_accesses", "plate_searches", "briefings"):
        assert body[key] == 0
    echoed = report(anon, "?from=2025-01-01T00:00:00Z&to=2025-03-01T00:00:00Z")
    assert echoed["from"] == "2025-01-01T00:00:00Z" and echoed["to"] == "2025-03-01T00:00:00Z"
    assert [m["start"][:7] for m in echoed["months"]] == ["2025-01", "2025-02"]
    assert (echoed["counted_from"], echoed["counted_to"]) == (echoed["from"], echoed["to"])  # whole hours


def test_a_window_inside_an_hour_says_which_hours_were_counted(anon):
    body = report(anon, "?from=2025-01-01T10:20:00Z&to=2025-01-01T10:50:00Z&months=false")
    assert (body["from"], body["to"]) == ("2025-01-01T10:20:00Z", "2025-01-01T10:50:00Z")  # echoed as given
    assert (body["counted_from"], body["counted_to"]) == ("2025-01-01T10:00:00Z", "2025-01-01T11:00:00Z")


@pytest.mark.parametrize(
    "query", ["from=yesterday", "to=soon", "from=2025-03-01&to=2025-01-01", "months=maybe", "from=2025-01-01T10:00:00"]
)
def test_an_unusable_window_is_400(anon, query):
    assert anon.get(f"/api/v1/transparency?{query}").status_code == 400


def test_the_report_moves_when_counted_things_happen(
    anon, client_for, operator, other_operator, clerk, officer, rec_disk, rec_device, make_clip
):
    before = report(anon)
    api = client_for(operator)
    device, _token = rec_device(officer)
    for action in ("start_recording", "start_recording", "stop_recording"):
        response = api.post(
            f"/api/v1/devices/{device.pk}/commands", {"action": action, "reason": "Pursuit"}, format="json"
        )
        assert response.status_code == 202, response.content
    clip = make_clip(officer, store=rec_disk)
    assert (
        client_for(clerk).post(f"/api/v1/clips/{clip.pk}/access", {"reason": "Case 2026-1"}, format="json").status_code
        == 200
    )
    probe = upload(api, jpeg()).json()["id"]
    fr = api.post("/api/v1/leads", fr_payload(probe), format="json").json()
    nibin = api.post("/api/v1/leads", nibin_payload(), format="json").json()
    reviewer = client_for(other_operator)
    reviewer.post(f"/api/v1/leads/{fr['id']}/review", {"decision": "verified", "note": "ok"}, format="json")
    reviewer.post(f"/api/v1/leads/{nibin['id']}/review", {"decision": "rejected", "note": "no"}, format="json")
    api.post(
        f"/api/v1/leads/{fr['id']}/share",
        {"priority": "urgent", "audience": {"officers": [str(officer.pk)]}},
        format="json",
    )
    api.get(f"/api/v1/leads/{nibin['id']}/related")
    after = report(anon)
    assert after["remote_recording"]["start_recording"] - before["remote_recording"]["start_recording"] == 2
    assert after["remote_recording"]["stop_recording"] - before["remote_recording"]["stop_recording"] == 1
    assert after["evidence_accesses"] - before["evidence_accesses"] == 1
    assert after["leads"]["facial_recognition"] == {"created": 1, "verified": 1, "rejected": 0}
    assert after["leads"]["nibin"] == {"created": 1, "verified": 0, "rejected": 1}
    assert after["briefings"] - before["briefings"] == 1
    assert after["plate_searches"] - before["plate_searches"] == 1
    this_month = after["months"][-1]
    assert this_month["remote_recording"]["start_recording"] == 2 and this_month["briefings"] == 1
    # a window that ended before all this did not move
    past = report(anon, "?from=2020-01-01&to=2020-02-01")
    assert past["remote_recording"]["start_recording"] == 0 and past["briefings"] == 0
    # never a name, a plate or a case number
    text = json.dumps(after)
    for secret in ("operator", "officer", "clerk", "John Roe", "2026-000123", "NIBIN-24-00017", str(officer.pk)):
        assert secret not in text
    # the report is read from the counters, not the audit trail
    assert sum(Count.objects.filter(name="command.start_recording", level="m").values_list("n", flat=True)) == 2


def test_a_briefed_plate_never_reaches_the_report(anon, client_for, operator, officer):
    client_for(operator).post(
        "/api/v1/briefings",
        {
            "priority": "urgent",
            "title": "Stolen",
            "vehicles": [{"plate": "XYZ987"}],
            "audience": {"officers": [str(officer.pk)]},
        },
        format="json",
    )
    body = report(anon)
    assert body["briefings"] == 1 and "XYZ987" not in json.dumps(body)


def test_a_bad_token_does_not_keep_the_public_out(client_for, operator):
    from tests.helpers import api_client

    assert api_client(token="rtcc_garbage").get("/api/v1/transparency").status_code == 200


def test_each_persons_first_look_at_a_live_session_is_a_live_view(anon, client_for, operator, other_operator, officer):
    from apps.live import services as live_services
    from tests.control.conftest import create_device
    from tests.live.conftest import mark_recording, request_live

    camera = create_device(kind="bodycam", officer=officer, label="Cam 7")
    mark_recording(camera)
    live = request_live(client_for(operator), camera.id).json()
    for user in (operator, operator, other_operator):
        live_services._touched.clear()  # as if each read came through another process
        assert client_for(user).get(f"/api/v1/live/{live['id']}/playlist.m3u8").status_code == 200
    assert report(anon)["live_views"] == 2


def test_a_recent_window_counts_the_commands_inside_it_to_the_microsecond(
    anon, client_for, make_user, exact_since_two_days_ago
):
    """Each count is of events inside the window: a window that starts between two commands
    counts the second only, not the whole hour both fell in; and it says it counted the window."""
    from urllib.parse import urlencode

    from tests.control.conftest import create_device

    operator = make_user("operator")
    camera = create_device(kind="bodycam")
    client = client_for(operator)

    def command(action: str) -> None:
        response = client.post(
            f"/api/v1/devices/{camera.id}/commands", {"action": action, "reason": "Transparency window"}, format="json"
        )
        assert response.status_code == 202, response.content

    before = datetime.now(UTC)
    command("start_recording")
    between = datetime.now(UTC)
    command("start_recording")
    command("stop_recording")
    after = datetime.now(UTC)

    def window(start: datetime, end: datetime) -> dict:
        query = {"from": start.isoformat().replace("+00:00", "Z"), "to": end.isoformat().replace("+00:00", "Z")}
        return report(anon, "?" + urlencode({**query, "months": "false"}))

    assert window(before, after)["remote_recording"] == {"start_recording": 2, "stop_recording": 1}
    body = window(between, after)
    assert body["remote_recording"] == {"start_recording": 1, "stop_recording": 1}
    assert (body["counted_from"], body["counted_to"]) == (body["from"], body["to"])
    assert window(before, between)["remote_recording"] == {"start_recording": 1, "stop_recording": 0}
    assert window(after, after + timedelta(minutes=5))["remote_recording"] == {
        "start_recording": 0,
        "stop_recording": 0,
    }
