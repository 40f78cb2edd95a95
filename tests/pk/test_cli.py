"""``ketaflow pk simulate`` and ``ketaflow pk population`` as a user calls them."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ketaflow.cli import main

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
ISSUE_EXAMPLE = [
    "pk",
    "simulate",
    "--model",
    "domino",
    "--weight-kg",
    "70",
    "--dose-mg-per-kg",
    "0.5",
    "--over-min",
    "40",
    "--at-min",
    "10,20,40,60,120,240",
    "--json",
]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_issue_example(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, *ISSUE_EXAMPLE)
    assert code == 0, err
    data = json.loads(out)
    assert data["time_min"] == [10, 20, 40, 60, 120, 240]
    assert data["plasma_ng_per_ml"][2] == pytest.approx(240.3, rel=1e-3)  # pk.md §0
    assert data["plasma_ng_per_ml"][3] == pytest.approx(55.1, rel=2e-3)
    assert data["summary"]["cmax_ng_per_ml"] == pytest.approx(240.3, rel=1e-3)
    assert data["warnings"] == []


def test_metabolite_and_effect_site_in_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys,
        "pk",
        "simulate",
        "--model",
        "simons",
        "--weight-kg",
        "70",
        "--age-yr",
        "25",
        "--dose-mg",
        "20",
        "--over-min",
        "20",
        "--at-min",
        "20,60",
        "--occupancy",
        "--json",
    )
    assert code == 0
    data = json.loads(out)
    assert set(data) >= {
        "time_min",
        "plasma_ng_per_ml",
        "s_norketamine_ng_per_ml",
        "effect_site_ng_per_ml",
        "nmda_occupancy_estimate",
    }
    assert 0 < data["nmda_occupancy_estimate"][0] < 1


def test_regular_grid_by_default(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys,
        "pk",
        "simulate",
        "--weight-kg",
        "70",
        "--dose-mg-per-kg",
        "0.5",
        "--over-min",
        "40",
        "--json",
    )
    assert code == 0
    data = json.loads(out)
    assert data["time_min"][:3] == [0, 1, 2]
    assert data["time_min"][-1] == 40 + 360
    code, out, _ = run(
        capsys,
        "pk",
        "simulate",
        "--weight-kg",
        "70",
        "--dose-mg-per-kg",
        "0.5",
        "--over-min",
        "40",
        "--until-min",
        "120",
        "--step-min",
        "30",
        "--json",
    )
    assert json.loads(out)["time_min"] == [0, 30, 60, 90, 120]


def test_course_and_plot(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    picture = tmp_path / "course.png"
    code, out, err = run(
        capsys,
        "pk",
        "simulate",
        "--weight-kg",
        "70",
        "--dose-mg-per-kg",
        "0.5",
        "--over-min",
        "40",
        "--infusions",
        "6",
        "--every-days",
        "2",
        "--level-ng-per-ml",
        "100",
        "--plot",
        str(picture),
    )
    assert code == 0, err
    assert picture.read_bytes().startswith(PNG_MAGIC)
    assert out.count("before the infusion at") == 5
    assert "time above 100 ng/mL" in out


def test_explicit_schedule_and_recorded_session(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys,
        "pk",
        "simulate",
        "--weight-kg",
        "70",
        "--dose-mg",
        "35",
        "--over-min",
        "40",
        "--schedule-days",
        "0,2,4,7,9,11",
        "--json",
    )
    assert code == 0
    assert len(json.loads(out)["summary"]["before_next_infusion"]) == 5
    code, out, _ = run(
        capsys,
        "pk",
        "simulate",
        "--weight-kg",
        "70",
        "--events",
        "0:0.875,20:0,25:0.875,45:0",
        "--at-min",
        "20,45",
        "--json",
    )
    assert code == 0
    assert json.loads(out)["plasma_ng_per_ml"][0] > 0


def test_population_json_and_plot(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    picture = tmp_path / "band.png"
    code, out, err = run(
        capsys,
        "pk",
        "population",
        "--model",
        "domino",
        "--n",
        "500",
        "--weight-kg",
        "70",
        "--weight-cv",
        "0.15",
        "--dose-mg-per-kg",
        "0.5",
        "--over-min",
        "40",
        "--until-min",
        "240",
        "--step-min",
        "5",
        "--percentiles",
        "5,25,50,75,95",
        "--json",
        "--plot",
        str(picture),
    )
    assert code == 0, err
    data = json.loads(out)
    assert data["n"] == 500
    assert set(data["plasma_ng_per_ml"]) == {"p5", "p25", "p50", "p75", "p95"}
    assert len(data["plasma_ng_per_ml"]["p50"]) == len(data["time_min"])
    assert data["cmax_plasma_ng_per_ml"]["p50"] == pytest.approx(240, rel=0.1)
    assert picture.read_bytes().startswith(PNG_MAGIC)


def test_population_text(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys,
        "pk",
        "population",
        "--n",
        "200",
        "--weight-kg",
        "70",
        "--dose-mg",
        "35",
        "--over-min",
        "40",
        "--until-min",
        "120",
    )
    assert code == 0
    assert "Cmax plasma_ng_per_ml: p5" in out


def test_out_of_population_reported(capsys: pytest.CaptureFixture[str]) -> None:
    code, _out, err = run(
        capsys,
        "pk",
        "simulate",
        "--model",
        "herd",
        "--weight-kg",
        "70",
        "--age-yr",
        "40",
        "--dose-mg",
        "35",
        "--over-min",
        "40",
        "--at-min",
        "40",
    )
    assert code == 0
    assert "warning: herd: the patient is older than 14 y" in err


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        (
            ["--weight-kg", "70", "--dose-mg-per-kg", "-0.5", "--over-min", "40"],
            "dose must not be negative",
        ),
        (
            ["--weight-kg", "0", "--dose-mg-per-kg", "0.5", "--over-min", "40"],
            "--weight-kg must be a positive number",
        ),
        (
            ["--model", "propofol", "--weight-kg", "70", "--dose-mg", "5", "--over-min", "4"],
            "unknown model 'propofol'",
        ),
        (["--weight-kg", "70", "--rate-mg-per-min", "0.875"], "a rate needs a duration"),
        (["--weight-kg", "70", "--events", "0:0.875"], "has no duration"),
        (["--weight-kg", "70"], "no dose"),
        (
            ["--weight-kg", "70", "--dose-mg", "35", "--over-min", "40", "--infusions", "3"],
            "--infusions needs --every-days",
        ),
        (
            ["--weight-kg", "70", "--dose-mg", "35", "--over-min", "40", "--step-min", "0"],
            "step must be positive",
        ),
    ],
)
def test_bad_input_exit_2_one_line(
    capsys: pytest.CaptureFixture[str], args: list[str], problem: str
) -> None:
    code, out, err = run(capsys, "pk", "simulate", *args)
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith("ketaflow pk: error: ")
    assert problem in err


def test_population_bad_n(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(
        capsys,
        "pk",
        "population",
        "--n",
        "0",
        "--weight-kg",
        "70",
        "--dose-mg",
        "35",
        "--over-min",
        "40",
    )
    assert code == 2
    assert "--n must be between 1 and 10,000,000" in err


def test_help_lists_subcommands(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["pk", "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "simulate" in out
    assert "population" in out
    for sub in ("simulate", "population"):
        with pytest.raises(SystemExit):
            main(["pk", sub, "--help"])
        assert "--dose-mg-per-kg" in capsys.readouterr().out


def test_installed_command_bad_input() -> None:
    """The real ``ketaflow`` executable: exit code 2 and one line naming the problem."""
    exe = shutil.which("ketaflow", path=str(Path(sys.executable).parent))
    assert exe is not None
    done = subprocess.run(
        [exe, "pk", "simulate", "--weight-kg", "0", "--dose-mg-per-kg", "0.5", "--over-min", "40"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr == "ketaflow pk: error: --weight-kg must be a positive number, got 0\n"
    ok = subprocess.run(
        [exe, *ISSUE_EXAMPLE[:-1]], capture_output=True, text=True, check=False, timeout=60
    )
    assert ok.returncode == 0
    assert "Cmax 240.3 ng/mL at 40 min" in ok.stdout
