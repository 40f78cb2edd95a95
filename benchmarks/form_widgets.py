"""The infusion pages with form widgets built in Python against the same pages with Django's widget
templates, interleaved request by request in one process on one database (so a shared machine's
drift falls on both alike). Figures quoted in docs/performance-web.md ("Form widgets in Python").

    .venv/bin/python benchmarks/form_widgets.py --repeats 40 --var-dir /tmp/wbench

The demo clinic as in infusion_page.py; the alternative is the project's form renderer with its
``render`` switched back to Django's (``BaseRenderer.render``) for every other request. For each
page: the median CPU time (``process_time``) of a render, in milliseconds, after 4 warm-up
renders.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

from demo_clinic import demo_clinic  # noqa: E402  (this folder, the script's own)


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--repeats", type=int, default=40)
    parser.add_argument("--var-dir", help="keep the scratch database here and reuse it")
    args = parser.parse_args()
    demo_clinic(args.var_dir, prefix="ketaflow-widgets-bench-")
    return run(args.repeats)


def run(repeats: int) -> int:
    from django.forms.renderers import BaseRenderer
    from django.test import Client
    from django.urls import reverse

    from ketaflow.accounts.models import User
    from ketaflow.infusions.models import InfusionSession
    from ketaflow.web.forms import FormRenderer

    in_python = FormRenderer.render
    renders = {"templates": BaseRenderer.render, "in Python": in_python}
    nurse = User.objects.get(username="nurse")
    prescriber = User.objects.get(username="prescriber")
    mine = InfusionSession.objects.filter(patient__clinic=nurse.clinic)
    Status = InfusionSession.Status
    cases = [
        ("running infusion, nurse", nurse, mine.filter(status=Status.RUNNING).first()),
        ("signed infusion, prescriber", prescriber, mine.filter(status=Status.SIGNED).last()),
    ]
    print(
        f"load average {os.getloadavg()[0]:.1f}; {repeats} renders of each kind, interleaved; "
        "CPU median ms\n"
    )
    print("| page | widget templates | widgets in Python | saved |")
    print("| --- | ---: | ---: | ---: |")
    for name, user, session in cases:
        if session is None:
            continue
        client = Client()
        client.force_login(user)
        url = reverse("infusion_session", args=[session.pk])
        cpu: dict[str, list[float]] = {kind: [] for kind in renders}
        try:
            for i in range(2 * repeats + 4):
                kind = list(renders)[i % 2]
                FormRenderer.render = renders[kind]  # type: ignore[method-assign]
                start = time.process_time()
                assert client.get(url).status_code == 200
                if i >= 4:
                    cpu[kind].append((time.process_time() - start) * 1000)
        finally:
            FormRenderer.render = in_python  # type: ignore[method-assign]
        before, after = (statistics.median(cpu[kind]) for kind in renders)
        print(f"| {name} | {before:.1f} | {after:.1f} | {before - after:.1f} |")
    print(f"\nload average at the end {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
