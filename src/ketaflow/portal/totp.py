"""The enrolment QR code as inline SVG (qrcode's path image: no PIL, presentation attributes
only). Secrets, codes and devices are django-otp's, in ``ketaflow.accounts.second_factor``, for
staff and patients alike."""

from __future__ import annotations

import qrcode
import qrcode.image.svg

from ketaflow.accounts.second_factor import ISSUER, new_secret, provisioning_uri

__all__ = ["ISSUER", "new_secret", "provisioning_uri", "qr_svg"]


def qr_svg(uri: str) -> str:
    """The QR code of ``uri`` as an ``<svg>`` element (no XML declaration)."""
    image = qrcode.make(uri, image_factory=qrcode.image.svg.SvgPathImage, box_size=10, border=2)
    svg: str = image.to_string(encoding="unicode")
    if svg.startswith("<?xml"):
        svg = svg.split("?>", 1)[1]
    return svg.replace("<svg ", '<svg class="qr" role="img" aria-label="QR code" ', 1)
