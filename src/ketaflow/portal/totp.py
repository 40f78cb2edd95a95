"""Time-based one-time passwords (RFC 6238: 30-second steps, 6 digits, SHA-1) with pyotp, and the
enrolment QR code as inline SVG (qrcode's path image: no PIL, presentation attributes only)."""

from __future__ import annotations

import hmac
import time

import pyotp
import qrcode
import qrcode.image.svg

ISSUER = "KetaFlow"
STEP_SECONDS = 30  # RFC 6238 default time step
VALID_WINDOW = 1  # accept the previous and next step too (clock drift, RFC 6238 s. 5.2)


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(secret: str, account: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=account, issuer_name=ISSUER)


def qr_svg(uri: str) -> str:
    """The QR code of ``uri`` as an ``<svg>`` element (no XML declaration)."""
    image = qrcode.make(uri, image_factory=qrcode.image.svg.SvgPathImage, box_size=10, border=2)
    svg: str = image.to_string(encoding="unicode")
    if svg.startswith("<?xml"):
        svg = svg.split("?>", 1)[1]
    return svg.replace("<svg ", '<svg class="qr" role="img" aria-label="QR code" ', 1)


def matching_step(secret: str, code: str, *, at: float | None = None) -> int | None:
    """The time step at which ``code`` is valid for ``secret`` (within the drift window)."""
    code = code.strip().replace(" ", "")
    if not (len(code) == 6 and code.isdigit()):
        return None
    now = time.time() if at is None else at
    totp = pyotp.TOTP(secret)
    step = int(now // STEP_SECONDS)
    for offset in range(-VALID_WINDOW, VALID_WINDOW + 1):
        candidate = step + offset
        if hmac.compare_digest(totp.at(candidate * STEP_SECONDS), code):
            return candidate
    return None
