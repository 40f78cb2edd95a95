"""Screenshots of the main pages as each role, at a tablet's size (1024 x 1366 CSS pixels) or
at the widths asked, on screen and as printed.

    .venv/bin/python scripts/screenshots.py OUTDIR [--port 8765]
    .venv/bin/python scripts/screenshots.py OUTDIR --widths 390,1024,1366 --print \
        --only director:api_tokens,prescriber:candidacy

Loads the demo clinic into a fresh, temporary database, serves it with ``ketaflow serve``, signs
each demo role in (a session past its second factor, made directly in the database), saves one
PNG per page into OUTDIR (``<role>-<page>.png``; with ``--widths``, ``<role>-<page>-<width>.png``,
a width under 600 emulating a phone; with ``--print``, also ``...-print.png`` in print media)
and stops the server. Needs Debian's chromium
and chromium-driver (``make system-deps``)."""

from __future__ import annotations

import argparse
import base64
import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # tests.web.browser: the one way this project starts Chromium

# The main pages of each role, by URL name (and a record for pages that need one).
PAGES: dict[str, list[str]] = {
    "director": [
        "home",
        "signin_list",
        "api_tokens",
        "account_security",
        "account_sessions",
        "patient_list",
        "chart",
        "chair_board",
        "ledger_home",
        "ledger_reports",
        "audit_list",
        "patient_history",
        "backup_status",
        "outcomes_dashboard",
        "clinic_settings",
    ],
    "prescriber": [
        "home",
        "patient_list",
        "chart",
        "candidacy",
        "course",
        "infusion_today",
        "signed_session",
        "api_tokens",
    ],
    "nurse": ["home", "infusion_today", "session", "flowsheet", "chair_board", "ledger_home"],
    "frontdesk": ["home", "patient_list", "chair_board"],
    "patient": ["portal_home", "portal_scores", "portal_viewers"],
}


def _url(name: str) -> str:
    from django.urls import reverse

    from ketaflow.candidacy.models import CandidacyAssessment
    from ketaflow.infusions.models import InfusionSession
    from ketaflow.patients.models import Patient
    from ketaflow.treatment.models import Course

    session = InfusionSession.objects.filter(patient__clinic__slug="riverside").order_by("pk")
    records = {
        "chart": ("patient_chart", Patient.objects.filter(clinic__slug="riverside")),
        "patient_history": (
            "patient_access_history",
            Patient.objects.filter(clinic__slug="riverside"),
        ),
        "candidacy": ("candidacy_detail", CandidacyAssessment.objects.all()),
        "course": ("course_detail", Course.objects.all()),
        "session": ("infusion_session", session),
        "signed_session": (
            "infusion_session",
            session.filter(status=InfusionSession.Status.SIGNED),
        ),
        "flowsheet": ("infusion_flowsheet", session),
    }
    if name in records:
        route, rows = records[name]
        first = rows.order_by("pk").first()
        return reverse(route, args=[first.pk]) if first is not None else ""
    return reverse(name)


def _session_cookie(username: str) -> str:
    """A session of ``username`` past the second factor, as the login pages would leave it."""
    from django.test import Client
    from django_otp import DEVICE_ID_SESSION_KEY

    from ketaflow.accounts.models import User
    from ketaflow.accounts.second_factor import totp_device

    user = User.objects.get(username=username)
    client = Client()
    client.force_login(user)
    device = totp_device(user)
    if device is not None:
        session = client.session
        session[DEVICE_ID_SESSION_KEY] = device.persistent_id
        session.save()
    return str(client.cookies["sessionid"].value)


def _wait(base: str, seconds: float = 60) -> None:
    """Until the server answers at all: /healthz says 503 on a fresh demo (no worker heartbeat,
    no backup yet), which is an answer."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=2):  # noqa: S310 (our http URL)
                return
        except urllib.error.HTTPError as answer:
            answer.close()
            return
        except OSError:
            time.sleep(0.5)
    raise SystemExit(f"the server at {base} did not answer within {seconds:.0f} s")


def _whole_page(browser: Any, path: Path) -> None:
    """The whole page, not only the window: Chromium's own capture beyond the viewport."""
    size = browser.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
    shot = browser.execute_cdp_cmd(
        "Page.captureScreenshot",
        {
            "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1},
        },
    )
    path.write_bytes(base64.b64decode(shot["data"]))


def _widths(text: str) -> list[int]:
    try:
        widths = [int(w) for w in text.split(",") if w.strip()]
    except ValueError:
        message = f"widths are numbers of CSS pixels, not {text!r}"
        raise argparse.ArgumentTypeError(message) from None
    if not widths or min(widths) < 320:
        raise argparse.ArgumentTypeError("give one or more widths of 320 CSS pixels or more")
    return widths


def _only(text: str) -> set[tuple[str, str]]:
    pairs = {tuple(item.split(":", 1)) for item in text.split(",") if item.strip()}
    unknown = sorted(
        ":".join(pair)
        for pair in pairs
        if len(pair) != 2 or pair[0] not in PAGES or pair[1] not in PAGES[pair[0]]
    )
    if unknown:
        raise argparse.ArgumentTypeError(f"not a role:page of this script: {', '.join(unknown)}")
    return {(role, name) for role, name in pairs}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("outdir", type=Path, help="folder for the PNG files (created)")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--widths", type=_widths, help="e.g. 390,1024,1366 (default: the tablet)")
    parser.add_argument("--print", action="store_true", help="also each page in print media")
    parser.add_argument("--only", type=_only, help="role:page,... (default: every page)")
    args = parser.parse_args(argv)
    args.outdir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, KETAFLOW_VAR_DIR=tempfile.mkdtemp(prefix="ketaflow-shots-"))
    env.setdefault("DJANGO_SETTINGS_MODULE", "ketaflow.settings")
    ketaflow = str(Path(sys.executable).with_name("ketaflow"))
    subprocess.run([ketaflow, "demo"], env=env, check=True, stdout=subprocess.DEVNULL)  # noqa: S603 (our command)
    os.environ.update(env)
    import django

    django.setup()
    from tests.web.browser import TABLET, chromium

    base = f"http://127.0.0.1:{args.port}"
    server = subprocess.Popen([ketaflow, "serve", "--port", str(args.port)], env=env)  # noqa: S603 (ours)
    sizes = args.widths or [TABLET[0]]
    try:
        _wait(base)
        for width in sizes:
            phone = (width, 844) if width < 600 else None
            window = None if phone else (width, TABLET[1])
            suffix = f"-{width}" if args.widths else ""
            with chromium(window=window, phone=phone) as browser:
                for role, names in PAGES.items():
                    browser.get(base + "/healthz")
                    browser.delete_all_cookies()
                    browser.add_cookie({"name": "sessionid", "value": _session_cookie(role)})
                    for name in names:
                        url = _url(name)
                        if not url or (args.only and (role, name) not in args.only):
                            continue
                        browser.get(base + url)
                        stem = f"{role}-{name.replace('_', '-')}{suffix}"
                        media = [("", "")] + ([("-print", "print")] if args.print else [])
                        for tail, kind in media:
                            browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": kind})
                            path = args.outdir / f"{stem}{tail}.png"
                            _whole_page(browser, path)
                            print(path)
                        browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": ""})
    finally:
        server.terminate()
        server.wait(timeout=30)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
