"""Screenshots of the main pages as each role, at a tablet's size (1024 x 1366 CSS pixels).

    .venv/bin/python scripts/screenshots.py OUTDIR [--port 8765]

Loads the demo clinic into a fresh, temporary database, serves it with ``ketaflow serve``, signs
each demo role in (a session past its second factor, made directly in the database), saves one
PNG per page into OUTDIR (``<role>-<page>.png``) and stops the server. Needs Debian's chromium
and chromium-driver (``make system-deps``)."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # tests.web.browser: the one way this project starts Chromium

# The main pages of each role, by URL name (and a record for pages that need one).
PAGES: dict[str, list[str]] = {
    "director": [
        "home",
        "patient_list",
        "chart",
        "chair_board",
        "ledger_home",
        "ledger_reports",
        "audit_list",
        "outcomes_dashboard",
        "clinic_settings",
    ],
    "prescriber": ["home", "patient_list", "chart", "candidacy", "course", "infusion_today"],
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
        "candidacy": ("candidacy_detail", CandidacyAssessment.objects.all()),
        "course": ("course_detail", Course.objects.all()),
        "session": ("infusion_session", session),
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("outdir", type=Path, help="folder for the PNG files (created)")
    parser.add_argument("--port", type=int, default=8765)
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
    try:
        _wait(base)
        with chromium(window=TABLET) as browser:
            for role, names in PAGES.items():
                browser.get(base + "/healthz")
                browser.delete_all_cookies()
                browser.add_cookie({"name": "sessionid", "value": _session_cookie(role)})
                for name in names:
                    url = _url(name)
                    if not url:
                        continue
                    browser.get(base + url)
                    path = args.outdir / f"{role}-{name.replace('_', '-')}.png"
                    browser.save_screenshot(str(path))
                    print(path)
    finally:
        server.terminate()
        server.wait(timeout=30)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
