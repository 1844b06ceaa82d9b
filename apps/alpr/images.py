"""A read's image: decoded with Pillow (JPEG only), re-encoded from pixels (no EXIF, GPS or comment left)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import warnings
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

from . import conf


class BadImage(ValueError):
    pass


@dataclass
class CleanImage:
    data: bytes
    sha256: str


def clean_base64_jpeg(text: str) -> CleanImage:
    """The base64 JPEG a reader sent, checked and stripped of metadata, or BadImage."""
    if not isinstance(text, str):
        raise BadImage("image must be a base64 string")
    if len(text) > conf.max_image_bytes() * 4 // 3 + 8:
        raise BadImage("image is too large")
    if "\n" in text or "\r" in text or " " in text:  # MIME-style lines of 76 characters, as many encoders write
        text = "".join(text.split())
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise BadImage("image is not valid base64") from None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(raw)) as probe:
                if probe.format != "JPEG":
                    raise BadImage("image must be a JPEG")
                if probe.width * probe.height > conf.max_image_pixels():
                    raise BadImage("image has too many pixels")
            with Image.open(io.BytesIO(raw)) as image:
                image.load()
                rgb = image.convert("RGB") if image.mode not in ("RGB", "L") else image
                # A new image from the pixels alone: a copy keeps the original's info (its JPEG
                # comment, which Pillow writes back out).
                pixels = Image.frombytes(rgb.mode, rgb.size, rgb.tobytes())
    except BadImage:
        raise
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise BadImage("image is not a readable JPEG") from None
    out = io.BytesIO()
    pixels.save(out, "JPEG", quality=90)  # from pixels alone: EXIF, GPS, comments are gone
    data = out.getvalue()
    return CleanImage(data=data, sha256=hashlib.sha256(data).hexdigest())
