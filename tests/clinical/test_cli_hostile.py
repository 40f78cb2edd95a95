"""Every subcommand that needs no database refuses absurd input with exit 2 and one line, never a
traceback, and what it prints as JSON is strict JSON (issue 10, item 21). The database commands
(audit, ledger, demo) are driven the same way in tests/cli/test_cli.py."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ketaflow.cli import main

DOSE = [
    "dose",
    "--indication",
    "ptsd",
    "--weight-kg",
    "70",
    "--weight-basis",
    "actual",
    "--vial-concentration-mg-per-ml",
    "10",
    "--final-volume-ml",
    "100",
    "--json",
]
VITALS = [
    "vitals",
    "classify",
    "--systolic-mmhg",
    "120",
    "--diastolic-mmhg",
    "75",
    "--heart-rate-bpm",
    "72",
    "--spo2-pct",
    "97",
    "--resp-rate-per-min",
    "14",
    "--json",
]
SIMULATE = [
    "pk",
    "simulate",
    "--weight-kg",
    "70",
    "--dose-mg-per-kg",
    "0.5",
    "--over-min",
    "40",
    "--at-min",
    "10,40",
    "--json",
]
POPULATION = [
    "pk",
    "population",
    "--weight-kg",
    "70",
    "--dose-mg-per-kg",
    "0.5",
    "--over-min",
    "40",
    "--n",
    "8",
    "--at-min",
    "10,40",
    "--json",
]
SCORE = ["score", "phq9", "--answers", "1,1,1,1,1,1,1,1,0", "--json"]
# Each command with the options whose values are replaced by hostile ones.
COMMANDS: dict[str, tuple[list[str], list[str]]] = {
    "dose": (
        DOSE,
        [
            "--weight-kg",
            "--dose-mg-per-kg",
            "--vial-concentration-mg-per-ml",
            "--final-volume-ml",
            "--duration-min",
            "--height-cm",
        ],
    ),
    "vitals": (
        VITALS,
        ["--systolic-mmhg", "--diastolic-mmhg", "--spo2-pct", "--baseline-systolic-mmhg"],
    ),
    "simulate": (
        SIMULATE,
        [
            "--weight-kg",
            "--dose-mg-per-kg",
            "--over-min",
            "--bolus-mg",
            "--infusions",
            "--every-days",
            "--until-min",
            "--step-min",
            "--ke0-per-min",
            "--age-yr",
            "--at-min",
        ],
    ),
    "population": (
        POPULATION,
        ["--n", "--weight-cv", "--threads", "--seed", "--weight-kg", "--at-min"],
    ),
    "score": (SCORE, ["--answers"]),
}
HOSTILE = [
    "nan",
    "inf",
    "-inf",
    "-1",
    "0",
    "1e308",
    "1e23",
    "1e-308",
    "99999999999999999999",
    "1e11",
    "100000",
    "abc",
    "",
    "1,,2",
    "0x10",
]


def _run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse's own usage errors
            code = int(exc.code or 0)
    return code, out.getvalue(), err.getvalue()


def _strict(text: str) -> Any:
    def refuse(name: str) -> Any:
        raise AssertionError(f"not JSON: {name}")

    return json.loads(text, parse_constant=refuse)


def _check(argv: list[str]) -> tuple[int, str, str]:
    code, out, err = _run(argv)
    assert code in (0, 2), (argv, code, err)
    assert "Traceback" not in err, (argv, err)
    if code == 2:
        lines = [line for line in err.splitlines() if line.strip()]
        assert lines, argv
        assert lines[-1].startswith(("ketaflow", "usage:")) or "error:" in lines[-1], (argv, err)
    elif "--json" in argv:
        _strict(out)
    return code, out, err


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    command=st.sampled_from(sorted(COMMANDS)),
    data=st.data(),
)
def test_every_command_survives_hostile_values(command: str, data: st.DataObject) -> None:
    base, options = COMMANDS[command]
    option = data.draw(st.sampled_from(options))
    value = data.draw(st.sampled_from(HOSTILE) | st.floats().map(repr))
    argv = list(base)
    if option in argv:
        argv[argv.index(option) + 1] = value
    else:
        argv += [option, value]
    _check(argv)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([*POPULATION[:-1], "--threads", "-1"], "threads must be between 1 and"),
        ([*POPULATION[:-1], "--threads", "0"], "threads must be between 1 and"),
        ([*POPULATION[:-1], "--threads", "100000"], "threads must be between 1 and"),
        ([*POPULATION[:-1], "--weight-cv", "1e308"], "weight CV must be between 0 and 2"),
        (["pk", "population", *POPULATION[2:8], "--n", "100000000000"], "--n must be between"),
        ([*SIMULATE, "--bolus-mg", "1e308"], "bolus dose"),
        ([*SIMULATE[:3], "1e-308", *SIMULATE[4:]], "weight_kg must be a body weight"),
        ([*DOSE[:-3], "--final-volume-ml", "1e23"], "final_volume_ml"),
        ([*DOSE[:-3], "--final-volume-ml", "1e308"], "final_volume_ml"),
        ([*DOSE[:8], "500", *DOSE[9:]], "not a strength ketamine is supplied in"),
    ],
)
def test_known_absurd_inputs_are_refused(argv: list[str], message: str) -> None:
    code, _, err = _check(argv)
    assert code == 2, err
    assert message in err


def test_screen_refuses_deep_nesting_and_infinite_numbers(tmp_path: Path) -> None:
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    code, _, err = _check(["screen", str(deep)])
    assert code == 2
    assert "nested too deeply" in err
    infinite = tmp_path / "inf.json"
    infinite.write_text('{"weight_kg": 1e999}')
    code, _, err = _check(["screen", str(infinite)])
    assert code == 2
    assert "1e999 is not a finite number" in err


@pytest.mark.parametrize("target", ["directory", "missing/dir/plot.png"])
def test_plot_to_an_unwritable_path_is_one_line(tmp_path: Path, target: str) -> None:
    path = tmp_path if target == "directory" else tmp_path / target
    code, _, err = _check([*SIMULATE[:-1], "--plot", str(path)])
    assert code == 2
    assert "cannot use" in err
