"""QR codes drawn on the server as SVG (the console loads nothing from the internet)."""

from __future__ import annotations

import io

import qrcode
import qrcode.image.svg


def qr_svg(data: str) -> bytes:
    """A self-contained SVG path image, black on white with a quiet zone, scalable to any size."""
    code = qrcode.QRCode(
        error_correction=qrcode.constants.ERROR_CORRECT_M, border=4, image_factory=qrcode.image.svg.SvgPathFillImage
    )
    code.add_data(data)
    code.make(fit=True)
    out = io.BytesIO()
    code.make_image().save(out)
    return out.getvalue()
