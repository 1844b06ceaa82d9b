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


def test_a_links_first_get_is_a_download_from_any_byte_and_its_later_ranges_are_not(
    make_clip, officer, clerk, rec_disk
):
    """`Range: bytes=1-` took all of a clip but its first byte with nothing in its custody: the
    first GET through a link is a download wherever it starts; a player's later ranges through the
    same link are that download sought in; a GET from the first byte is a download again."""
    clip = make_clip(officer, store=rec_disk, data=b"x" * 4096)
    api = api_client(clerk)

    def link() -> str:
        return urlsplit(api.post(f"/api/v1/clips/{clip.pk}/access", {"reason": "r"}, format="json").json()["url"]).path

    def downloads() -> list[dict]:
        trail = api.get(f"/api/v1/clips/{clip.pk}/custody").json()["results"]
        return [event for event in trail if event["action"] == "clip.download"]

    first = link()
    assert api_client().get(first, HTTP_RANGE="bytes=1-").status_code == 206
    assert [(d["actor"], d["detail"]["range"]) for d in downloads()] == [(str(clerk.pk), "bytes=1-")]
    for later in ("bytes=1024-2047", "bytes=-100", "bytes=4000-"):
        assert api_client().get(first, HTTP_RANGE=later).status_code == 206
    assert len(downloads()) == 1
    assert api_client().get(first, HTTP_RANGE="bytes=0-").status_code == 206  # from the start: again
    assert api_client().head(first).status_code == 200  # a HEAD sends no bytes
    second = link()
    assert api_client().get(second, HTTP_RANGE="bytes=2048-").status_code == 206  # another link: its own
    assert len(downloads()) == 3


def test_a_post_to_a_download_link_is_a_405_not_a_csrf_page(make_clip, officer, clerk, rec_disk):
    clip = make_clip(officer, store=rec_disk, data=b"x" * 10)
    path = urlsplit(
        api_client(clerk).post(f"/api/v1/clips/{clip.pk}/access", {"reason": "r"}, format="json").json()["url"]
    ).path
    response = api_client().post(path)
    assert response.status_code == 405 and response["Allow"] == "GET, HEAD"
    assert response.json()["error"]["code"] == "method_not_allowed"
