"""A clinic day for locust, and the driver that runs one stage of it (``run.py`` calls it).

    python benchmarks/load/scenario.py --host URL --seed seed.json --users 50 --think 5 \
        --seconds 60 --mix day|read|healthz --out stage.json

Each simulated user logs in through the login page with its own login's password and second
factor (TOTP; a code is accepted once per 30-s step and device, so logins are never shared) and
keeps its session; CSRF tokens are read from the forms, as a browser sends them. Then, with
``--think`` seconds between actions (uniform over 0.8-1.2 times it):

- nurses open their clinic's running infusion and chart vitals on it (the page's own fetch, with
  its fragment header: the answer carries the re-rendered cards), and open today's list;
- prescribers open a patient's chart and outcome trajectory and sign a progress note (notes are
  signed once written and never edited; candidacy and infusion sign-offs lock their record, so
  they cannot repeat);
- the front desk searches patients, opens the chair board and moves an appointment (the
  booking form's write: a day 1-60 days after today, a chair and an hour; the clinic may refuse a
  taken slot, counted apart as "refused", not as an error);
- patients open the portal, answer a PHQ-9 (item 9 always 0, so no urgent task) and see their
  scores;
- the director opens the outcomes dashboard, the ledger, the audit trail and the home page.

The users are locust's ``FastHttpUser`` (geventhttpclient), not ``HttpUser`` (requests): locust
runs on the same two cores as the server, and the fast client costs about a third of the CPU a
request (docs/performance-web.md, "Fourth run"), which a saturation figure would otherwise count
against the server. Redirects are followed by hand (the fast client's response ``url`` is the
URL asked); a page answered with a redirect to the login is a failure.

``--mix read`` is the same users' page reads without the writes; ``--mix healthz`` asks
``/healthz`` only (no login): the stack's ceiling. Logins happen before the measured window;
the window's requests are timed exactly (every response time kept, no histogram buckets) and
written as JSON: per action the count, failures, p50/p95/p99 ms and requests per second. With
``--cpu-of server=PID,database=PID`` the window's CPU seconds of each process tree (from /proc)
and of this client are written too.
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import json
import os
import random
import re
import resource
import statistics
import sys
import threading
import time
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any, ClassVar

import pyotp
from locust import User, between, constant, events, task
from locust.contrib.fasthttp import FastHttpUser
from locust.env import Environment

# Kinds of actions: the targets differ for a page read and for a vitals save.
PAGE, WRITE, LOGIN, HEALTH = "page read", "write", "login", "healthz"
KIND: dict[str, str] = {}

SEED: dict[str, Any] = {}
_NEXT: dict[str, itertools.count[int]] = defaultdict(itertools.count)
_LAST_STEP: dict[str, int] = {}
_STEP_LOCK = threading.Lock()
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


class Window:
    """The measured window: response times (ms) per action, failures, refusals."""

    def __init__(self) -> None:
        self.open = False
        self.times: dict[str, list[float]] = defaultdict(list)
        self.failures: dict[str, int] = defaultdict(int)
        self.errors: dict[str, int] = defaultdict(int)
        self.refused: dict[str, int] = defaultdict(int)
        self.logins: list[float] = []
        self.logged_in = 0
        self.login_failures: list[str] = []


WINDOW = Window()


def _on_request(name: str, response_time: float, exception: BaseException | None, **_: Any) -> None:
    if KIND.get(name) == LOGIN:
        return
    if not WINDOW.open:
        return
    WINDOW.times[name].append(response_time)
    if exception is not None:
        WINDOW.failures[name] += 1
        WINDOW.errors[f"{name}: {str(exception)[:120]}"] += 1


_request_hook: Any = events.request  # locust's EventHook.add_listener is not annotated
_request_hook.add_listener(_on_request)


def _code(username: str, secret: str) -> str:
    """A code not yet used by this login (as an authenticator shows the next one)."""
    while True:
        with _STEP_LOCK:
            now = int(time.time() // 30)
            # This step or the next: the server accepts one step either side of its own, so
            # the code holds while the request waits in a queue for up to 30 s.
            step = max(now, _LAST_STEP.get(username, 0) + 1)
            if step <= now + 1:
                _LAST_STEP[username] = step
                return str(pyotp.TOTP(secret).at(step * 30))
        time.sleep(1)


def _action(name: str, kind: str) -> str:
    KIND[name] = kind
    return name


class ClinicUser(FastHttpUser):
    abstract = True
    role: ClassVar[str] = ""
    read_only: ClassVar[bool] = False

    def on_start(self) -> None:
        accounts = SEED["accounts"][self.role]
        self.account = accounts[next(_NEXT[self.role]) % len(accounts)]
        self.clinic = SEED["clinics"][self.account["clinic"]]
        self.csrf = ""
        self.rng = random.Random(self.account["username"])
        started = time.perf_counter()
        try:
            self._login()
        except Exception as exc:  # a failed login is reported, never hidden
            WINDOW.login_failures.append(f"{self.account['username']}: {exc}")
            raise
        WINDOW.logins.append((time.perf_counter() - started) * 1000)
        WINDOW.logged_in += 1

    def _login(self) -> None:
        name = _action("login (password and code)", LOGIN)
        page = self.client.get("/login/", name=name)
        form = {
            "csrfmiddlewaretoken": self._token(page.text or ""),
            "username": self.account["username"],
            "password": self.account["password"],
        }
        answer = self.client.post("/login/", data=form, name=name, allow_redirects=False)
        code_page, verify = self._follow(answer, name)
        if "/verify/" not in verify:
            raise RuntimeError(f"no code page after the password (at {verify})")
        code = _code(self.account["username"], self.account["totp_secret"])
        form = {"csrfmiddlewaretoken": self._token(code_page.text or ""), "code": code}
        answer = self.client.post(verify, data=form, name=name, allow_redirects=False)
        done, landing = self._follow(answer, name, at=verify)
        if "/verify/" in landing or done.status_code != 200:
            raise RuntimeError(f"code refused (HTTP {done.status_code} at {landing})")
        self.csrf = self._token(done.text or "") or self.csrf

    def _follow(self, answer: Any, name: str, at: str = "") -> tuple[Any, str]:
        """The page a redirect leads to, and its URL, followed by hand: the fast client's
        response ``url`` is the URL asked, not the one its redirects ended at."""
        for _ in range(5):
            if answer.status_code not in (301, 302, 303):
                return answer, at
            at = answer.headers.get("Location", "")
            answer = self.client.get(at, name=name, allow_redirects=False)
        raise RuntimeError(f"too many redirects (at {at})")

    def _token(self, html: str) -> str:
        found = CSRF.search(html)
        if found:
            self.csrf = found.group(1)
        return self.csrf

    def page(self, url: str, name: str) -> str:
        with self.client.get(
            url, name=_action(name, PAGE), catch_response=True, allow_redirects=False
        ) as answer:
            target = answer.headers.get("Location", "") if answer.status_code == 302 else ""
            if "/login/" in target or "/verify/" in target:
                answer.failure("sent back to the login")
            elif answer.status_code != 200:
                answer.failure(f"HTTP {answer.status_code}")
            text = answer.text or ""
            self._token(text)
            return text

    def write(
        self,
        url: str,
        name: str,
        data: dict[str, Any],
        expect: int = 302,
        refusal: int | None = None,
        **kw: Any,
    ) -> Any:
        """POST a form (with the CSRF token); ``expect`` is the success status, ``refusal`` the
        status of the clinic's refusal (the form again): counted apart, not as a failure."""
        body = {"csrfmiddlewaretoken": self.csrf, **data}
        with self.client.post(
            url,
            data=body,
            name=_action(name, WRITE),
            allow_redirects=False,
            catch_response=True,
            **kw,
        ) as answer:
            if answer.status_code == refusal:
                WINDOW.refused[name] += int(WINDOW.open)
            elif answer.status_code != expect:
                answer.failure(f"HTTP {answer.status_code}")
            return answer


class Nurse(ClinicUser):
    role = "nurse"
    weight = 4

    def _session(self) -> int:
        return int(self.rng.choice(self.clinic["running_sessions"]))

    @task(3)
    def infusion_page(self) -> None:
        self.page(f"/infusions/{self._session()}/", "nurse: infusion page")

    @task(1)
    def today(self) -> None:
        self.page("/infusions/today/", "nurse: today's infusions")

    @task(3)
    def chart_vitals(self) -> None:
        if self.read_only:
            self.infusion_page()
            return
        session = self._session()
        data = {
            "client_uuid": str(uuid.uuid4()),
            "entered_at": dt.datetime.now(dt.UTC).isoformat(),
            "systolic_mmhg": self.rng.randint(112, 128),
            "diastolic_mmhg": self.rng.randint(70, 82),
            "heart_rate_bpm": self.rng.randint(64, 84),
            "spo2_percent": self.rng.randint(96, 99),
            "respiratory_rate_per_min": 14,
        }
        answer = self.write(
            f"/infusions/{session}/do/vitals/",
            "nurse: save vitals",
            data,
            expect=200,
            headers={"X-KetaFlow-Fragment": "1"},
        )
        if answer.status_code == 200 and not answer.json().get("ok"):
            answer.failure("vitals not saved")


class Prescriber(ClinicUser):
    role = "prescriber"
    weight = 2

    def _patient(self) -> int:
        return int(self.rng.choice(self.clinic["patients"]))

    @task(2)
    def chart(self) -> None:
        self.page(f"/patients/{self._patient()}/", "prescriber: patient chart")

    @task(1)
    def trajectory(self) -> None:
        self.page(f"/outcomes/patients/{self._patient()}/", "prescriber: outcome trajectory")

    @task(1)
    def sign_note(self) -> None:
        if self.read_only:
            self.chart()
            return
        patient = self._patient()
        self.page(f"/patients/{patient}/", "prescriber: patient chart")
        self.write(
            f"/patients/{patient}/notes/new/",
            "prescriber: sign a note",
            {"kind": "progress", "text": "Load benchmark: tolerated the session, plan unchanged."},
        )


class FrontDesk(ClinicUser):
    role = "frontdesk"
    weight = 2

    @task(2)
    def search(self) -> None:
        self.page("/patients/?q=Load", "front desk: patient search")

    @task(1)
    def board(self) -> None:
        self.page("/treatment/board/", "front desk: chair board")

    @task(1)
    def move(self) -> None:
        if self.read_only or not self.clinic["appointments"]:
            self.board()
            return
        appointment = self.rng.choice(self.clinic["appointments"])
        url = f"/treatment/appointments/{appointment}/reschedule/"
        self.page(url, "front desk: booking form")
        day = dt.datetime.now(dt.UTC).date() + dt.timedelta(days=self.rng.randint(1, 60))
        while day.weekday() > 4:
            day += dt.timedelta(days=1)
        self.write(
            url,
            "front desk: book (move an appointment)",
            {
                "on": day.isoformat(),
                "at": f"{self.rng.randint(9, 13):02d}:00",
                "chair": self.rng.choice(self.clinic["chairs"]),
                "nurse": "",
                "reason": "Load benchmark: the patient asked for another day.",
            },
            refusal=200,  # the form again, with the clinic's reasons (a taken slot)
        )


class Patient(ClinicUser):
    role = "patient"
    weight = 3

    @task(2)
    def home(self) -> None:
        self.page("/portal/", "patient: portal home")

    @task(1)
    def scores(self) -> None:
        self.page("/portal/scores/", "patient: my scores")

    @task(2)
    def answer(self) -> None:
        self.page("/portal/answer/phq9/", "patient: questionnaire")
        if self.read_only:
            return
        items = {f"item_{n}": str(self.rng.randint(0, 2)) for n in range(1, 9)}
        self.write(
            "/portal/answer/phq9/",
            "patient: answer a PHQ-9",
            {**items, "item_9": "0", "comment": ""},
        )


class Director(ClinicUser):
    role = "director"
    weight = 1

    @task
    def dashboard(self) -> None:
        self.page("/outcomes/dashboard/", "director: outcomes dashboard")

    @task
    def ledger(self) -> None:
        self.page("/ledger/", "director: ledger")

    @task
    def audit(self) -> None:
        self.page("/audit/", "director: audit trail")

    @task
    def home(self) -> None:
        self.page("/", "director: home")


class Health(FastHttpUser):
    wait_time = constant(0)

    @task
    def healthz(self) -> None:
        with self.client.get(
            "/healthz", name=_action("/healthz", HEALTH), catch_response=True
        ) as answer:
            if answer.status_code != 200:
                answer.failure(f"HTTP {answer.status_code}")


ROLE_CLASSES: tuple[type[ClinicUser], ...] = (Nurse, Prescriber, FrontDesk, Patient, Director)


def user_classes(mix: str, think_s: float, one_each: bool = False) -> list[type[User]]:
    """The mix's classes; ``one_each``: one user of each role (the smoke run), not weights."""
    if mix == "healthz":
        return [Health]
    wait = between(0.8 * think_s, 1.2 * think_s) if think_s > 0 else constant(0)
    extra: dict[str, Any] = {"fixed_count": 1} if one_each else {}
    return [
        type(cls.__name__, (cls,), {"wait_time": wait, "read_only": mix == "read", **extra})
        for cls in ROLE_CLASSES
    ]


def tree_cpu(root: int) -> tuple[float, set[int]]:
    """CPU seconds (user and system) of process ``root`` and every process below it, from
    /proc, and their ids: the server's workers, PostgreSQL's backends. Each process counts its
    own seconds and those of its children it has reaped (``cutime``, ``cstime``): a backend or
    worker that ends between two readings leaves its seconds with its parent, so the difference
    of two readings is the tree's CPU in between, never less (a process that ended without its
    seconds being counted made the database's figure negative)."""
    parent: dict[int, int] = {}
    spent: dict[int, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        parent[int(name)] = int(fields[1])
        # utime, stime, cutime, cstime: proc(5) fields 14-17
        spent[int(name)] = sum(int(f) for f in fields[11:15]) / tick
    tree = {root} & set(spent)
    grown = True
    while grown:
        below = {pid for pid, up in parent.items() if up in tree} - tree
        tree |= below
        grown = bool(below)
    return sum(spent[pid] for pid in tree), tree


def own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class CpuMeter:
    """The CPU seconds the measured window cost each named process tree and this client."""

    def __init__(self, roots: dict[str, int]) -> None:
        self.roots = roots
        self.start: dict[str, tuple[float, set[int]]] = {}
        self.client = 0.0

    def open(self) -> None:
        self.start = {label: tree_cpu(pid) for label, pid in self.roots.items()}
        self.client = own_cpu()

    def close(self, requests: int) -> dict[str, Any]:
        out: dict[str, Any] = {"client_s": round(own_cpu() - self.client, 2)}
        for label, pid in self.roots.items():
            seconds, pids = tree_cpu(pid)
            before, was = self.start[label]
            out[f"{label}_s"] = round(seconds - before, 2)
            out[f"{label}_ended"] = len(was - pids)  # processes gone within the window
            if requests:
                out[f"{label}_ms_per_request"] = round((seconds - before) * 1000 / requests, 2)
        return out


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100), linear between the closest ranks."""
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def summary(seconds: float) -> dict[str, Any]:
    actions = {}
    for name, times in sorted(WINDOW.times.items()):
        actions[name] = {
            "kind": KIND.get(name, PAGE),
            "requests": len(times),
            "failures": WINDOW.failures.get(name, 0),
            "refused": WINDOW.refused.get(name, 0),
            "p50_ms": round(percentile(times, 50), 1),
            "p95_ms": round(percentile(times, 95), 1),
            "p99_ms": round(percentile(times, 99), 1),
            "rps": round(len(times) / seconds, 2),
        }
    every = [t for times in WINDOW.times.values() for t in times]
    pages = [t for n, times in WINDOW.times.items() if KIND.get(n) == PAGE for t in times]
    total: dict[str, Any] = {
        "requests": len(every),
        "failures": sum(WINDOW.failures.values()),
        "rps": round(len(every) / seconds, 2),
    }
    for label, values in (("all", every), ("pages", pages)):
        if values:
            total[f"{label}_p50_ms"] = round(percentile(values, 50), 1)
            total[f"{label}_p95_ms"] = round(percentile(values, 95), 1)
            total[f"{label}_p99_ms"] = round(percentile(values, 99), 1)
    return {
        "seconds": round(seconds, 1),
        "actions": actions,
        "total": total,
        "errors": dict(WINDOW.errors),
        "logins": {
            "count": len(WINDOW.logins),
            "failed": WINDOW.login_failures[:10],
            "failed_count": len(WINDOW.login_failures),
            "p50_ms": round(percentile(WINDOW.logins, 50), 1) if WINDOW.logins else None,
        },
    }


def drive(
    *,
    host: str,
    users: int,
    think_s: float,
    seconds: float,
    mix: str,
    login_timeout_s: float,
    one_each: bool = False,
    cpu_of: dict[str, int] | None = None,
) -> dict[str, Any]:
    """Start ``users`` users, wait until they are logged in, then measure ``seconds``
    (``time.sleep`` yields to the users' greenlets: locust patches it for gevent)."""
    classes = user_classes(mix, think_s, one_each)
    env = Environment(user_classes=classes, host=host, events=events)
    runner = env.create_local_runner()
    runner.start(users, spawn_rate=max(5.0, users / 10))
    deadline = time.monotonic() + login_timeout_s
    if mix != "healthz":
        while WINDOW.logged_in + len(WINDOW.login_failures) < users:
            if time.monotonic() > deadline:
                break
            time.sleep(0.2)
    else:
        time.sleep(1)
    meter = CpuMeter(cpu_of or {})
    meter.open()
    WINDOW.open = True
    started = time.monotonic()
    time.sleep(seconds)
    WINDOW.open = False
    elapsed = time.monotonic() - started
    result = summary(elapsed)
    result["cpu"] = meter.close(result["total"]["requests"])
    runner.quit()
    result["users"] = users
    result["think_s"] = think_s
    result["mix"] = mix
    result["logged_in_before_window"] = WINDOW.logged_in
    return result


def _roots(text: str) -> dict[str, int]:
    roots = {}
    for part in filter(None, text.split(",")):
        label, _, pid = part.partition("=")
        if not label or not pid.isdigit():
            raise argparse.ArgumentTypeError(f"label=pid, not {part!r}")
        roots[label] = int(pid)
    return roots


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", required=True)
    parser.add_argument("--seed", type=Path, required=True)
    parser.add_argument("--users", type=int, required=True)
    parser.add_argument("--think", type=float, default=5.0, help="seconds between actions")
    parser.add_argument("--seconds", type=float, default=60.0, help="the measured window")
    parser.add_argument("--mix", choices=("day", "read", "healthz"), default="day")
    parser.add_argument("--login-timeout", type=float, default=300.0)
    parser.add_argument("--one-each", action="store_true", help="one user of each role")
    parser.add_argument(
        "--cpu-of",
        type=_roots,
        default={},
        help="label=pid,...: process trees whose CPU the window's requests cost (the server's)",
    )
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument(
        "--steps", type=Path, help="the TOTP steps used so far (kept between stages)"
    )
    args = parser.parse_args(argv)
    SEED.update(json.loads(args.seed.read_text()))
    if args.steps and args.steps.exists():
        _LAST_STEP.update(json.loads(args.steps.read_text()))
    result = drive(
        host=args.host,
        users=args.users,
        think_s=args.think,
        seconds=args.seconds,
        mix=args.mix,
        login_timeout_s=args.login_timeout,
        one_each=args.one_each,
        cpu_of=args.cpu_of,
    )
    args.out.write_text(json.dumps(result, indent=1))
    if args.steps:
        args.steps.write_text(json.dumps(_LAST_STEP))
    return 0


if __name__ == "__main__":
    sys.exit(main())
