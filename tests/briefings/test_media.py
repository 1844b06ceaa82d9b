"""Photos: only real JPEG/PNG/WebP, no bombs or broken files, EXIF orientation applied and every
bit of metadata (GPS above all) gone from what is stored and served; thumbnails behind signed links."""

from __future__ import annotations

import io
import uuid

import pytest
from PIL import Image
from PIL.ExifTags import IFD

from tests.briefings.conftest import jpeg, upload
from tests.helpers import error_code

pytestmark = pytest.mark.django_db


def exif_with_gps(orientation: int = 1) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation  # Orientation
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x0131] = "SecretApp 1.0"  # Software
    gps = exif.get_ifd(IFD.GPSInfo)
    gps[1], gps[2] = "N", (40.0, 42.0, 46.08)
    gps[3], gps[4] = "W", (74.0, 0.0, 21.6)
    return exif.tobytes()


def fetched(client, url: str):
    response = client.get(url.replace("http://testserver", ""))
    body = b"".join(response.streaming_content) if response.streaming else response.content
    return response, body


def test_gps_and_all_metadata_are_gone_and_orientation_is_applied(client_for, operator):
    original = jpeg((2400, 1200), exif=exif_with_gps(orientation=6))  # 6: rotate 90° to display
    assert Image.open(io.BytesIO(original)).getexif().get_ifd(IFD.GPSInfo)  # the test photo does carry GPS
    api = client_for(operator)
    response = upload(api, original)
    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) >= {"id", "width", "height", "url", "thumbnail_url"}
    assert (body["width"], body["height"]) == (800, 1600)  # turned upright, bounded to 1600 px

    for url in (body["url"], body["thumbnail_url"]):
        served, data = fetched(api, url)
        assert served.status_code == 200 and served["Content-Type"] == "image/jpeg"
        image = Image.open(io.BytesIO(data))
        assert image.format == "JPEG"
        assert dict(image.getexif()) == {}
        assert not image.getexif().get_ifd(IFD.GPSInfo)
        assert not {"exif", "xmp", "icc_profile", "comment"} & set(image.info)
        assert b"PhoneMaker" not in data and b"SecretApp" not in data and b"GPS" not in data
    thumb = Image.open(io.BytesIO(fetched(api, body["thumbnail_url"])[1]))
    assert max(thumb.size) <= 512 and thumb.width < thumb.height


def test_stored_objects_have_no_metadata_either(client_for, operator):
    from apps.briefings.models import Media
    from apps.integrations.storage import get_storage

    media_id = upload(client_for(operator), jpeg(exif=exif_with_gps())).json()["id"]
    item = Media.objects.get(pk=media_id)
    for key in (item.image_key, item.thumbnail_key):
        data = b"".join(get_storage().iter_bytes(key))
        assert b"GPS" not in data and b"PhoneMaker" not in data
        assert dict(Image.open(io.BytesIO(data)).getexif()) == {}
    assert item.thumbnail_size < 1024 * 1024  # small enough for a notification image


@pytest.mark.parametrize("fmt, mode", [("PNG", "RGBA"), ("PNG", "P"), ("WEBP", "RGB"), ("PNG", "L")])
def test_png_and_webp_are_accepted(fmt, mode, client_for, operator):
    out = io.BytesIO()
    Image.new(mode, (300, 200)).save(out, fmt)
    response = upload(client_for(operator), out.getvalue(), name="x.bin", content_type="application/octet-stream")
    assert response.status_code == 201, response.content
    assert (response.json()["width"], response.json()["height"]) == (300, 200)


def _gif() -> bytes:
    out = io.BytesIO()
    Image.new("P", (20, 20)).save(out, "GIF")
    return out.getvalue()


def _png_claiming(width: int, height: int) -> bytes:
    """A small PNG whose header claims width x height pixels (what a decompression bomb does)."""
    import struct
    import zlib

    out = io.BytesIO()
    Image.new("1", (8, 8)).save(out, "PNG")
    data = bytearray(out.getvalue())
    ihdr = 8 + 8  # signature, then the IHDR chunk's length and type
    data[ihdr : ihdr + 8] = struct.pack(">II", width, height)
    data[ihdr + 13 : ihdr + 17] = struct.pack(">I", zlib.crc32(bytes(data[ihdr - 4 : ihdr + 13])))
    return bytes(data)


def _bomb() -> bytes:
    return _png_claiming(30000, 30000)  # 900 megapixels: over Pillow's own bomb limit


def _big() -> bytes:
    return _png_claiming(8000, 6000)  # 48 megapixels: under Pillow's limit, over rtcc's cap


@pytest.mark.parametrize(
    "name, data, content_type, status, code",
    [
        ("notes.jpg", b"this is not a photo, just text\n" * 10, "image/jpeg", 415, "unsupported_media_type"),
        ("anim.gif", None, "image/gif", 415, "unsupported_media_type"),
        ("cut.jpg", "truncated", "image/jpeg", 400, "image_corrupt"),
        ("bomb.png", "bomb", "image/png", 400, "image_too_large"),
        ("big.png", "big", "image/png", 400, "image_too_large"),
        ("empty.jpg", b"", "image/jpeg", 400, "invalid"),
    ],
)
def test_bad_images_are_refused_and_nothing_is_stored(name, data, content_type, status, code, client_for, operator):
    from apps.briefings.models import Media

    if data is None:
        data = _gif()
    elif data == "truncated":
        whole = jpeg((800, 600))
        data = whole[: len(whole) // 2]
    elif data == "bomb":
        data = _bomb()
    elif data == "big":
        data = _big()
    response = upload(client_for(operator), data, name=name, content_type=content_type)
    assert response.status_code == status, response.content
    assert error_code(response) == code
    assert ("fields" in response.json()["error"]) == (status == 400)  # `fields` only for a validation error
    assert Media.objects.count() == 0


def test_missing_file_field_is_400(client_for, operator):
    response = client_for(operator).post("/api/v1/media", {"other": "x"}, format="multipart")
    assert response.status_code == 400 and error_code(response) == "invalid"
    assert "file" in response.json()["error"]["fields"]


def test_thumbnail_link_works_without_credentials_but_not_forged(client_for, operator, anon):
    body = upload(client_for(operator), jpeg()).json()
    response, data = fetched(anon, body["thumbnail_url"])
    assert response.status_code == 200 and Image.open(io.BytesIO(data)).format == "JPEG"
    path = body["thumbnail_url"].replace("http://testserver", "")
    forged = path[:-3] + ("AAA" if not path.endswith("AAA") else "BBB")
    assert anon.get(forged).status_code == 403
    other = f"/api/v1/media/{uuid.uuid4()}/thumbnail?sig={path.split('sig=')[1]}"  # another id, same signature
    assert anon.get(other).status_code == 403
    assert anon.get(f"/api/v1/media/{body['id']}/thumbnail").status_code == 401
    assert anon.get(body["url"].replace("http://testserver", "")).status_code == 401


def test_thumbnail_link_expires(client_for, operator, anon, settings):
    from datetime import timedelta

    body = upload(client_for(operator), jpeg()).json()
    settings.RTCC_MEDIA_THUMBNAIL_LINK_TTL = timedelta(seconds=-1)
    assert anon.get(body["thumbnail_url"].replace("http://testserver", "")).status_code == 403


def test_unknown_media_is_404(client_for, operator):
    api = client_for(operator)
    assert api.get(f"/api/v1/media/{uuid.uuid4()}/image").status_code == 404
    assert api.get(f"/api/v1/media/{uuid.uuid4()}").status_code == 404


@pytest.mark.parametrize("role, status", [("operator", 201), ("officer", 403), ("clerk", 403), ("it", 403)])
def test_upload_roles(role, status, personas, client_for):
    assert upload(client_for(personas[role]), jpeg()).status_code == status


def test_upload_on_s3(s3, client_for, operator):
    from apps.briefings.models import Media

    media_id = upload(client_for(operator), jpeg(exif=exif_with_gps())).json()["id"]
    item = Media.objects.get(pk=media_id)
    assert s3.exists(item.image_key) and s3.exists(item.thumbnail_key)
    assert b"GPS" not in b"".join(s3.iter_bytes(item.image_key))


def test_a_store_that_fails_is_503_and_keeps_no_photo(client_for, operator, store_fails):
    from apps.briefings.models import Media

    store_fails()
    response = upload(client_for(operator), jpeg())
    assert response.status_code == 503 and error_code(response) == "storage_unavailable"
    assert int(response["Retry-After"]) == response.json()["error"]["retry_after"] >= 1
    assert not Media.objects.exists()


def test_a_photo_the_store_cannot_give_back_is_503_not_a_broken_image(client_for, operator, anon, store_fails):
    body = upload(client_for(operator), jpeg()).json()
    store_fails()
    for client, url in [(client_for(operator), f"/api/v1/media/{body['id']}/image"), (anon, body["thumbnail_url"])]:
        response = client.get(url.replace("http://testserver", ""))
        assert response.status_code == 503 and error_code(response) == "storage_unavailable", url


def test_objects_put_for_rows_that_are_not_written_are_deleted_again(operator, either_store):
    """What media_upload and a plate-read batch rely on (integrations.storage.atomic_with_objects):
    when the block fails after its objects were put (the database refusing the row, the store
    refusing the next object), they are deleted again with the rows rolled back; when it commits
    they stay."""
    from apps.briefings.models import Media
    from apps.integrations.storage import atomic_with_objects

    storage = either_store

    def media_row(pk):
        return Media.objects.create(
            id=pk, uploaded_by=operator, original_format="jpeg", width=1, height=1, content_type="image/jpeg",
            image_key=f"media/{pk}/image.jpg", thumbnail_key=f"media/{pk}/thumbnail.jpg",
            image_size=1, thumbnail_size=1, thumbnail_width=1, thumbnail_height=1,
        )  # fmt: skip

    failed = uuid.uuid4()
    with pytest.raises(RuntimeError, match="refused"), atomic_with_objects() as objects:
        objects.put(f"media/{failed}/image.jpg", b"image", content_type="image/jpeg")
        objects.put(f"media/{failed}/thumbnail.jpg", b"thumb", content_type="image/jpeg")
        media_row(failed)
        assert storage.exists(f"media/{failed}/image.jpg")
        raise RuntimeError("the database refused the row")
    assert not Media.objects.filter(pk=failed).exists()
    assert not storage.exists(f"media/{failed}/image.jpg") and not storage.exists(f"media/{failed}/thumbnail.jpg")

    kept = uuid.uuid4()
    with atomic_with_objects() as objects:
        objects.put(f"media/{kept}/image.jpg", b"image", content_type="image/jpeg")
        media_row(kept)
    assert Media.objects.filter(pk=kept).exists()
    assert b"".join(storage.iter_bytes(f"media/{kept}/image.jpg")) == b"image"


def test_objects_are_purged_many_at_a_time(monkeypatch, either_store):
    """What retention uses for a day's plate images: every key deleted, in batches (S3
    DeleteObjects; two per request here), a key already gone is no failure."""
    from apps.integrations import storage as storage_module

    monkeypatch.setattr(storage_module, "DELETE_BATCH", 2)
    storage = either_store
    keys = [f"alpr/reads/purge-many/{uuid.uuid4()}.jpg" for _ in range(5)]
    for key in keys:
        storage.put(key, io.BytesIO(b"image"), content_type="image/jpeg")
    kept = f"alpr/reads/purge-many/{uuid.uuid4()}.jpg"
    storage.put(kept, io.BytesIO(b"image"), content_type="image/jpeg")
    assert storage.purge_many([*keys, "alpr/reads/purge-many/never-stored.jpg"]) == []
    assert [key for key in keys if storage.exists(key)] == []
    assert storage.exists(kept)
