"""Photo checks and re-encoding with Pillow: only JPEG/PNG/WebP, no bombs, no metadata left.

Input is decoded, never trusted by name or content type. The output is always a fresh JPEG
built from pixels alone (EXIF, GPS, XMP, ICC, comments all gone), in two sizes: a bounded
image for people with a token and a small thumbnail for notification images.
"""

from __future__ import annotations

import io
import time
import warnings
from dataclasses import dataclass

from django.core import signing
from PIL import Image, ImageOps, UnidentifiedImageError

from apps.core.errors import InvalidInput, UnsupportedMedia

from . import conf

ACCEPTED = ("JPEG", "PNG", "WEBP")


@dataclass
class Rendition:
    data: bytes
    width: int
    height: int


@dataclass
class CleanImage:
    original_format: str
    image: Rendition
    thumbnail: Rendition


def _encode(image: Image.Image, quality: int) -> Rendition:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality, optimize=True, progressive=True)
    return Rendition(out.getvalue(), image.width, image.height)


def _flatten(image: Image.Image) -> Image.Image:
    """RGB pixels only; transparency goes onto white."""
    if image.mode == "RGB":
        return image
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    if image.mode.startswith("I;16") or image.mode in ("I", "F"):
        image = image.convert("I").point(lambda v: v / 256).convert("L")
    return image.convert("RGB")


def clean(data: bytes) -> CleanImage:
    """Decodes, checks and re-encodes an uploaded photo, or raises 415 / 400."""
    max_pixels = conf.media_max_pixels()
    try:
        with warnings.catch_warnings():
            # Pillow warns (and past 2x raises) on decompression bombs; treat both as a refusal.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image: Image.Image = Image.open(io.BytesIO(data), formats=list(ACCEPTED))
            original_format = image.format or ""
            width, height = image.size
            if width < 1 or height < 1 or width * height > max_pixels:
                raise InvalidInput(
                    f"The image has {width}x{height} pixels; at most {max_pixels} are accepted.",
                    code="image_too_large",
                    fields={"file": ["Too many pixels."]},
                )
            if getattr(image, "n_frames", 1) > 1:
                image.seek(0)  # animated WebP/PNG: the first frame
            side = conf.media_max_side()
            if original_format == "JPEG":
                image.draft("RGB", (side, side))  # decode at a reduced scale: less memory and time
            image.load()
            image = ImageOps.exif_transpose(image) or image
    except (UnidentifiedImageError, Image.DecompressionBombError) as exc:
        if isinstance(exc, Image.DecompressionBombError):
            raise InvalidInput(
                "The image is a decompression bomb.", code="image_too_large", fields={"file": ["Too many pixels."]}
            ) from None
        # `fields` is for validation errors (400) only, as the contract's envelope says.
        raise UnsupportedMedia("The file is not a JPEG, PNG or WebP image: only those are accepted.") from None
    except Image.DecompressionBombWarning:
        raise InvalidInput(
            "The image is a decompression bomb.", code="image_too_large", fields={"file": ["Too many pixels."]}
        ) from None
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError) as exc:
        raise InvalidInput(
            f"The image is truncated or corrupt ({exc.__class__.__name__}).",
            code="image_corrupt",
            fields={"file": ["The image could not be decoded."]},
        ) from None

    rgb = _flatten(image)
    # A new image from the pixels alone: nothing of the original's metadata can come along.
    pixels = Image.frombytes("RGB", rgb.size, rgb.tobytes())
    pixels.thumbnail((side, side), Image.Resampling.LANCZOS)
    thumb_side = conf.media_thumbnail_side()
    thumbnail = pixels.copy()
    thumbnail.thumbnail((thumb_side, thumb_side), Image.Resampling.LANCZOS)
    return CleanImage(original_format=original_format, image=_encode(pixels, 85), thumbnail=_encode(thumbnail, 80))


# Links -----------------------------------------------------------------------------------------
# Phones fetch a notification's image without any credential, so the thumbnail link carries
# its own: a signature over the media id with a timestamp, valid conf.media_thumbnail_link_ttl()
# from that timestamp. A link in an answer is signed with the start of the current window (a
# tenth of the lifetime): the officer's page polls every 5 s, and a link signed with each second
# changed every answer, so the page drew every card and fetched every thumbnail again. Such a
# link lives between the lifetime less a window and the lifetime, never longer. A push's link is
# signed with the second it goes out (it is sent once, and should last the whole lifetime).

SIGNING_SALT = "rtcc.briefings.media.thumbnail"


def link_window_seconds() -> int:
    """The window answers' links are the same link within: a tenth of their lifetime (a minute
    of the default 10), at least a second."""
    return max(1, int(conf.media_thumbnail_link_ttl().total_seconds()) // 10)


class _WindowSigner(signing.TimestampSigner):
    """Signs with the start of the current window instead of the current second."""

    def timestamp(self) -> str:
        window = link_window_seconds()
        return signing.b62_encode(int(time.time()) // window * window)


def thumbnail_signature(media_id, *, windowed: bool = True) -> str:
    """The link's signature: the same within a window (`windowed`), else made with this second."""
    signer = _WindowSigner(salt=SIGNING_SALT) if windowed else signing.TimestampSigner(salt=SIGNING_SALT)
    return signer.sign(str(media_id)).split(":", 1)[1]


def thumbnail_signature_ok(media_id, signature: str) -> bool:
    try:
        value = signing.TimestampSigner(salt=SIGNING_SALT).unsign(
            f"{media_id}:{signature}", max_age=conf.media_thumbnail_link_ttl()
        )
    except signing.BadSignature:  # also SignatureExpired
        return False
    return value == str(media_id)


def image_path(media_id) -> str:
    return f"/api/v1/media/{media_id}/image"


def thumbnail_path(media_id) -> str:
    return f"/api/v1/media/{media_id}/thumbnail?sig={thumbnail_signature(media_id)}"


def resigned(url: str) -> str:
    """The same thumbnail link with a signature made now, for its whole lifetime (a push sent or
    retried later)."""
    base, sep, _ = url.partition("?sig=")
    if not sep:
        return url
    media_id = base.rstrip("/").split("/")[-2]
    return f"{base}?sig={thumbnail_signature(media_id, windowed=False)}"
