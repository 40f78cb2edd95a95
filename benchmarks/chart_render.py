"""Web charts: server-rendered SVG (web/charts.py) against matplotlib PNGs rendered per request,
on the demo clinic, in one run. Figures quoted in docs/performance-web.md ("Charts").

    .venv/bin/python benchmarks/chart_render.py              # 30 repeats of each
    .venv/bin/python benchmarks/chart_render.py --repeats 60

It loads the demo clinic into a scratch SQLite database (a temporary ``KETAFLOW_VAR_DIR``) and
measures, server side (Django's test client: the whole request through the middleware, access
checks, audit writes and the template; no network):

1. the chart alone, per request: each chart's data and its SVG (the ``web/_chart.html`` include
   rendered) against the PNG that the removed routes drew (``trajectory_png`` still draws the
   progress report's picture; ``plot_simulation`` still draws ``ketaflow pk simulate --plot``);
2. whole pages as served now: the infusion page of the running infusion (vitals chart and the
   predicted concentration inline) and the outcome trajectory page, as the nurse and the
   prescriber, median and 95th percentile over the repeats;
3. what the PNG design cost the same page: the page plus one PNG request per chart, the PNG
   timed as in 1 (the routes themselves are gone).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

from demo_clinic import demo_clinic  # noqa: E402  (this folder, the script's own)


def times_ms(fn: Callable[[], object], repeats: int, warmup: int = 2) -> list[float]:
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        out.append((time.perf_counter() - start) * 1000)
    return out


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def line(name: str, values: list[float]) -> str:
    return f"| {name} | {statistics.median(values):.1f} | {p95(values):.1f} | {len(values)} |"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument(
        "--var-dir", help="keep the scratch database here and reuse it on the next run"
    )
    parser.add_argument("--profile", action="store_true", help="cProfile one infusion page")
    args = parser.parse_args()
    demo_clinic(args.var_dir, prefix="ketaflow-chart-bench-")
    return run(args.repeats, profile=args.profile)


def run(repeats: int, *, profile: bool = False) -> int:
    from django.template.loader import render_to_string
    from django.test import Client
    from django.urls import reverse
    from django.utils import timezone

    from ketaflow.accounts.models import User
    from ketaflow.infusions import charts as infusion_charts
    from ketaflow.infusions.models import InfusionSession
    from ketaflow.outcomes.charts import trajectory_charts, trajectory_png
    from ketaflow.outcomes.selectors import trajectory
    from ketaflow.patients.models import Patient
    from ketaflow.pk import Covariates, get_model, plot_simulation, simulate, time_grid
    from ketaflow.pk.models import DEFAULT_MODEL

    nurse = User.objects.get(username="nurse")
    prescriber = User.objects.get(username="prescriber")
    running = InfusionSession.objects.filter(
        status=InfusionSession.Status.RUNNING, patient__clinic=nurse.clinic
    ).first() or InfusionSession.objects.filter(patient__clinic=nurse.clinic).exclude(
        started_at=None
    ).latest("started_at")
    scored = max(
        Patient.objects.filter(clinic=prescriber.clinic),
        key=lambda p: p.responses.count(),
    )

    def client(user: User) -> Client:
        c = Client()
        c.force_login(user)
        return c

    def svg(chart: object) -> str:
        return render_to_string("web/_chart.html", {"chart": chart})

    now = timezone.now()

    # 1. the chart alone
    traj = trajectory(scored)

    def trajectory_svg() -> None:
        for chart in trajectory_charts(traj):
            svg(chart)

    def trajectory_picture() -> None:
        trajectory_png(traj)

    def pk_svg() -> None:
        infusion_charts._delivered_curve.cache_clear()  # the first request of a pump record
        infusion_charts._pk_chart.cache_clear()
        chart = infusion_charts.delivered_pk_chart(running, now)
        if chart is not None:
            svg(chart)

    def pk_svg_cached() -> None:
        chart = infusion_charts.delivered_pk_chart(running, now)
        if chart is not None:
            svg(chart)

    regimen = infusion_charts.delivered_regimen(running, now)
    assert regimen is not None, "the demo's infusion has no pump record"
    covariates = Covariates(weight_kg=float(running.weight_kg or 70), age_yr=40.0)

    def pk_picture() -> None:  # what delivered-pk.png did
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = simulate(
                get_model(DEFAULT_MODEL),
                regimen,
                covariates,
                time_grid(until_min=regimen.end_min + 180, step_min=1),
            )
        plot_simulation(result)

    vitals = list(running.vitals.all())
    events = list(running.events.all())

    def vitals_svg() -> None:
        chart = infusion_charts.vitals_chart(vitals, events, now)
        if chart is not None:
            svg(chart)

    pieces = {
        "Trajectory, SVG (data + template), all measures": times_ms(trajectory_svg, repeats),
        "Trajectory, matplotlib PNG (trajectory_png)": times_ms(trajectory_picture, repeats),
        "Infusion PK curve, SVG, first request of a pump record": times_ms(pk_svg, repeats),
        "Infusion PK curve, SVG, same pump record, same minute (chart kept)": times_ms(
            pk_svg_cached, repeats
        ),
        "Infusion PK curve, matplotlib PNG (simulate + plot_simulation)": times_ms(
            pk_picture, repeats
        ),
        "Vitals chart, SVG": times_ms(vitals_svg, repeats),
    }

    # 2. whole pages as served now
    nurse_client, prescriber_client = client(nurse), client(prescriber)
    infusion_url = reverse("infusion_session", args=[running.pk])
    trajectory_url = reverse("outcomes_trajectory", args=[scored.pk])

    def get(c: Client, url: str) -> Callable[[], None]:
        def fetch() -> None:
            response = c.get(url)
            assert response.status_code == 200, (url, response.status_code)

        return fetch

    if profile:
        import cProfile
        import pstats

        fetch = get(nurse_client, infusion_url)
        fetch()
        profiler = cProfile.Profile()
        profiler.runcall(fetch)
        stats = pstats.Stats(profiler).sort_stats("cumulative")
        stats.print_stats(30)
        stats.print_stats("charts|simulate|_page_context|start_problems")
        return 0
    from ketaflow.infusions import selectors as infusion_selectors

    def without_charts() -> None:
        """The same page with both charts switched off: the charts' share of the page."""
        namespace = vars(infusion_selectors)  # where the page's data calls them
        names = ("vitals_chart", "delivered_pk_chart")
        saved = {name: namespace[name] for name in names}
        namespace.update(dict.fromkeys(names, lambda *a, **k: None))
        try:
            get(nurse_client, infusion_url)()
        finally:
            namespace.update(saved)

    pages = {
        "Infusion page (SVG inline), nurse": times_ms(get(nurse_client, infusion_url), repeats),
        "Infusion page with its charts switched off, nurse": times_ms(without_charts, repeats),
        "Outcome trajectory page (SVG inline), prescriber": times_ms(
            get(prescriber_client, trajectory_url), repeats
        ),
    }
    page_infusion = statistics.median(pages["Infusion page (SVG inline), nurse"])
    page_trajectory = statistics.median(pages["Outcome trajectory page (SVG inline), prescriber"])
    png_pk = statistics.median(
        pieces["Infusion PK curve, matplotlib PNG (simulate + plot_simulation)"]
    )
    png_traj = statistics.median(pieces["Trajectory, matplotlib PNG (trajectory_png)"])
    svg_pk = statistics.median(
        pieces["Infusion PK curve, SVG, same pump record, same minute (chart kept)"]
    )
    svg_traj = statistics.median(pieces["Trajectory, SVG (data + template), all measures"])

    print(f"# Chart rendering, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print(
        f"Python {platform.python_version()}, {platform.machine()}, {os.cpu_count()} CPUs; "
        f"demo clinic on SQLite; {repeats} repeats after 2 warm-up runs; milliseconds.\n"
    )
    print(
        f"Infusion: session {running.pk} ({running.get_status_display()}, {len(vitals)} vitals, "
        f"{len(events)} pump events); trajectory: {scored.responses.count()} scores.\n"
    )
    print("| what | median ms | p95 ms | n |\n| --- | ---: | ---: | ---: |")
    for name, values in {**pieces, **pages}.items():
        print(line(name, values))
    print()
    print(
        f"Server time of a page with its charts: infusion page now {page_infusion:.1f} ms "
        f"(SVG inline) against about {page_infusion - svg_pk + png_pk:.1f} ms with the PNG "
        f"(the page without its PK chart plus one PNG request); trajectory page now "
        f"{page_trajectory:.1f} ms against about {page_trajectory - svg_traj + png_traj:.1f} ms."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
