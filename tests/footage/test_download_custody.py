"""A download through a clerk's link is the clerk's act in the clip's custody trail, not the system's."""

from __future__ import annotations

from urllib.parse import urlsplit

from tests.footage.records_support import *  # noqa: F403 - the records fixtures
from tests.helpers import api_client


def test_a_download_is_recorded_as_the_clerk_whose_link_it_was(make_clip, officer, clerk, rec_disk):
    clip = make_clip(officer, store=rec_disk, data=b"evidence bytes" * 100)
    api = api_client(clerk)
    link = api.post(f"/api/v1/clips/{clip.pk}/access", {"reason": "review for case 2026-7"}, format="json").json()
    # The link is the credential: whoever holds it fetches the bytes without a session.
    served = api_client().get(urlsplit(link["url"]).path)
    assert served.status_code == 200 and b"".join(served.streaming_content) == b"evidence bytes" * 100

    trail = api.get(f"/api/v1/clips/{clip.pk}/custody").json()["results"]
    assert [event["action"] for event in trail] == ["clip.access", "clip.download"]
    download = trail[1]
    assert download["actor"] == str(clerk.pk)
    assert download["actor_type"] == "user" and download["actor_label"] == clerk.username


def test_a_range_request_after_the_first_is_not_another_download(make_clip, officer, clerk, rec_disk):
    clip = make_clip(officer, store=rec_disk, data=b"x" * 4096)
    api = api_client(clerk)
    path = urlsplit(api.post(f"/api/v1/clips/{clip.pk}/access", {"reason": "r"}, format="json").json()["url"]).path
    assert api_client().get(path, HTTP_RANGE="bytes=1024-2047").status_code == 206
    trail = api.get(f"/api/v1/clips/{clip.pk}/custody").json()["results"]
    assert [event["action"] for event in trail] == ["clip.access"]
