"""The score, screen and dose commands, called as a user would (main() and the installed script)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ketaflow.cli import main

DATA = Path(__file__).parent / "data"
INTAKE = DATA / "intake_eligible.json"


def _json(capsys: pytest.CaptureFixture[str], argv: list[str]) -> Any:
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


def _fails(capsys: pytest.CaptureFixture[str], argv: list[str], message: str) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert err.startswith(f"ketaflow {argv[0]}: error: ")
    assert message in err


# --- score ---------------------------------------------------------------------------------


def test_score_pcl5_json(capsys: pytest.CaptureFixture[str]) -> None:
    data = _json(capsys, ["score", "pcl5", "--answers", ",".join(["2"] * 20), "--json"])
    assert data["instrument"] == "pcl5"
    assert data["total"] == 40
    assert data["clusters"] == {"B": 10, "C": 4, "D": 14, "E": 12}
    assert data["provisional_diagnosis"] is True
    assert data["probable_ptsd"] is True


def test_score_pcl5_cutpoint_option(capsys: pytest.CaptureFixture[str]) -> None:
    answers = ",".join(["4"] * 8 + ["0"] * 12)  # total 32
    assert (
        _json(capsys, ["score", "pcl5", "--answers", answers, "--json"])["probable_ptsd"] is False
    )
    data = _json(capsys, ["score", "pcl5", "--answers", answers, "--pcl5-cutpoint", "31", "--json"])
    assert data["probable_ptsd"] is True


def test_score_phq9_json(capsys: pytest.CaptureFixture[str]) -> None:
    data = _json(capsys, ["score", "phq9", "--answers", "3,3,3,3,3,3,2,0,0", "--json"])
    assert data["total"] == 20
    assert data["severity"] == "severe"
    assert data["suicide_risk_flag"] is False


def test_score_gad7_and_cssrs(capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        _json(capsys, ["score", "gad7", "--answers", "2,2,2,2,2,0,0", "--json"])["severity"]
        == "moderate"
    )
    data = _json(capsys, ["score", "cssrs", "--answers", "y,y,n,y,n,n", "--json"])
    assert data["risk"] == "high"
    data = _json(
        capsys,
        [
            "score",
            "cssrs",
            "--answers",
            "n,n,n,n,n,y",
            "--behaviour-within-3-months",
            "n",
            "--json",
        ],
    )
    assert data["risk"] == "moderate"


@pytest.mark.parametrize(
    ("instrument", "answers", "total"),
    [
        ("caps5", ",".join(["1"] * 20), 20),
        ("madrs", ",".join(["6"] * 10), 60),
        ("cadss", ",".join(["1"] * 23), 23),
        ("aldrete", "2,2,2,2,1", 9),
    ],
)
def test_score_other_instruments(
    capsys: pytest.CaptureFixture[str], instrument: str, answers: str, total: int
) -> None:
    assert _json(capsys, ["score", instrument, "--answers", answers, "--json"])["total"] == total


def test_score_cadss_28(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["score", "cadss", "--answers", ",".join(["1"] * 28), "--cadss-version", "28", "--json"]
    assert _json(capsys, argv)["total"] == 28


def test_score_text_output(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["score", "phq9", "--answers", "0,0,0,0,0,0,0,0,1"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("PHQ-9: total 1")
    assert "suicide risk flag: True" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["score", "pcl5", "--answers", "1,2"], "needs exactly 20 item ratings, got 2"),
        (["score", "phq9", "--answers", "0,0,0,0,0,0,0,0,4"], "PHQ-9 item 9: rating 4"),
        (["score", "gad7", "--answers", "0,a,0,0,0,0,0"], "item 2: 'a' is not a whole number"),
        (["score", "cssrs", "--answers", "y,y,maybe,n,n,n"], "item 3: 'maybe' is not y or n"),
        (["score", "phq10", "--answers", "0"], "INSTRUMENT: 'phq10' is not one of"),
        (["score", "phq9"], "--answers is required"),
        (["score", "pcl5", "--answers", "0", "--pcl5-cutpoint", "40"], "31-33"),
        (["score", "cadss", "--answers", "0", "--cadss-version", "19"], "--cadss-version"),
    ],
)
def test_score_rejects_bad_input(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    _fails(capsys, argv, message)


# --- screen --------------------------------------------------------------------------------


def test_screen_json(capsys: pytest.CaptureFixture[str]) -> None:
    data = _json(capsys, ["screen", str(INTAKE), "--json"])
    assert data["decision"] == "eligible"
    assert data["indications"] == ["ptsd"]
    finding = data["findings"][0]
    assert set(finding) == {"tier", "rule_id", "message", "source"}


def test_screen_text(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    intake = json.loads(INTAKE.read_text())
    intake["pregnant"] = True
    path = tmp_path / "intake.json"
    path.write_text(json.dumps(intake))
    assert main(["screen", str(path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Decision: not eligible")
    assert "[hard_stop] pregnancy.pregnant" in out


def test_screen_schema(capsys: pytest.CaptureFixture[str]) -> None:
    schema = _json(capsys, ["screen", "--schema"])
    assert schema["title"] == "KetaFlow eligibility intake"
    assert "medical" in schema["properties"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "invalid JSON at line 1"),
        ('{"age_years": NaN}', "NaN is not allowed"),
        ("[]", "intake: [] is not of type 'object'"),
        ('{"age_years": 40}', "is a required property"),
    ],
)
def test_screen_rejects_bad_intake(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "intake.json"
    path.write_text(content)
    _fails(capsys, ["screen", str(path)], message)


def test_screen_missing_file_and_arguments(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    _fails(capsys, ["screen", str(tmp_path / "absent.json")], "No such file")
    _fails(capsys, ["screen"], "INTAKE.json is required")
    _fails(capsys, ["screen", str(INTAKE), "--schema"], "not both")


# --- dose ----------------------------------------------------------------------------------

DOSE = [
    "dose",
    "--indication",
    "ptsd",
    "--weight-kg",
    "80",
    "--weight-basis",
    "actual",
    "--vial-concentration-mg-per-ml",
    "10",
    "--final-volume-ml",
    "100",
]


def test_dose_json_fields(capsys: pytest.CaptureFixture[str]) -> None:
    data = _json(capsys, [*DOSE, "--dose-mg-per-kg", "0.5", "--duration-min", "40", "--json"])
    assert data["dose_mg"] == 40.0
    assert data["drug_volume_ml"] == 4.0
    assert data["total_volume_ml"] == 100.0
    assert data["rate_ml_per_h"] == 150.0
    assert data["weight_basis_kg"] == 80.0
    assert data["warnings"] == []


def test_dose_defaults_are_announced(capsys: pytest.CaptureFixture[str]) -> None:
    data = _json(capsys, [*DOSE, "--json"])
    assert data["dose_mg_per_kg"] == 0.5
    assert data["duration_min"] == 40.0
    assert any("drug library default 0.5 mg/kg" in w for w in data["warnings"])
    assert any("drug library default 40 min" in w for w in data["warnings"])


def test_dose_ideal_weight_and_override(capsys: pytest.CaptureFixture[str]) -> None:
    argv = [
        *DOSE,
        "--weight-kg",
        "130",
        "--override-reason",
        "obese; actual weight chosen",
        "--override-role",
        "prescriber",
        "--json",
    ]
    data = _json(capsys, argv)
    assert data["dose_mg"] == 65.0
    assert data["override"]["role"] == "prescriber"
    argv = [*DOSE, "--weight-basis", "ideal", "--height-cm", "182.88", "--sex", "male", "--json"]
    assert _json(capsys, argv)["weight_basis_kg"] == pytest.approx(77.6)


def test_dose_text(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*DOSE, "--duration-min", "45"]) == 0
    out = capsys.readouterr().out
    assert "rate_ml_per_h: 133.3" in out
    assert "warning: Pump rate shown as 133.3" in out


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--dose-mg-per-kg", "1.5"], "refused: dose 1.5 mg/kg is above the hard maximum"),
        (["--dose-mg-per-kg", "0.75"], "override needed"),
        (
            ["--dose-mg-per-kg", "0.75", "--override-reason", "x", "--override-role", "nurse"],
            "an infusion nurse may not override",
        ),
        (["--override-role", "prescriber"], "without --override-reason"),
        (["--weight-kg", "heavy"], "--weight-kg: 'heavy' is not a number"),
        (["--weight-kg", "nan"], "--weight-kg: 'nan' is not a finite number"),
        (["--weight-basis", "lean"], "--weight-basis: 'lean' is not one of"),
        (["--weight-basis", "ideal"], "needs height_cm and sex"),
        (["--duration-min", "0"], "duration_min: must be greater than 0"),
        (["--indication", "pain"], "--indication: 'pain' is not one of"),
        (["--sex", "x"], "--sex: 'x' is not one of"),
    ],
)
def test_dose_rejects_bad_input(
    capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    _fails(capsys, [*DOSE, *extra], message)


def test_dose_missing_required(capsys: pytest.CaptureFixture[str]) -> None:
    _fails(
        capsys,
        ["dose", "--indication", "ptsd", "--weight-basis", "actual"],
        "--weight-kg or --weight-lb is required",
    )
    both = ["--weight-kg", "70", "--weight-lb", "154"]
    _fails(capsys, ["dose", "--indication", "ptsd", "--weight-basis", "actual", *both], "not both")


def test_dose_in_pounds(capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 10, item 13: --weight-lb is the alternative to --weight-kg (1 lb = 0.45359237 kg)."""
    data = _json(
        capsys,
        [
            "dose",
            "--indication",
            "ptsd",
            "--weight-lb",
            "154",
            "--weight-basis",
            "actual",
            "--vial-concentration-mg-per-ml",
            "10",
            "--final-volume-ml",
            "100",
            "--json",
        ],
    )
    assert data["weight_basis_kg"] == pytest.approx(69.85322498)
    assert "Weight 154 lb = 69.85 kg." in data["warnings"]


@pytest.mark.parametrize("command", ["score", "screen", "dose"])
def test_help(capsys: pytest.CaptureFixture[str], command: str) -> None:
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    assert exc.value.code == 0
    assert "usage: ketaflow " + command in capsys.readouterr().out


# --- the installed command -------------------------------------------------------------------


def _ketaflow(*args: str) -> subprocess.CompletedProcess[str]:
    script = Path(sys.executable).with_name("ketaflow")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "ketaflow.cli"]
    return subprocess.run(
        [*command, *args], capture_output=True, text=True, check=False, timeout=60
    )


def test_installed_command_works_and_rejects_bad_input() -> None:
    ok = _ketaflow("score", "gad7", "--answers", "3,3,3,3,3,3,3", "--json")
    assert ok.returncode == 0
    assert json.loads(ok.stdout)["severity"] == "severe"
    bad = _ketaflow("score", "gad7", "--answers", "3,3,3,3,3,3,9")
    assert bad.returncode == 2
    assert bad.stdout == ""
    assert bad.stderr.splitlines() == [
        "ketaflow score: error: GAD-7 item 7: rating 9 is outside 0-3"
    ]
    assert "Traceback" not in bad.stderr
    dose = _ketaflow(
        *DOSE[:3],
        "--weight-kg",
        "80",
        "--weight-basis",
        "actual",
        "--vial-concentration-mg-per-ml",
        "10",
        "--final-volume-ml",
        "100",
        "--dose-mg-per-kg",
        "2",
    )
    assert dose.returncode == 2
    assert len(dose.stderr.splitlines()) == 1


def test_dose_missing_indication(capsys: pytest.CaptureFixture[str]) -> None:
    _fails(capsys, ["dose", "--weight-kg", "80"], "--indication is required (one of: ptsd")


def test_score_cutpoint_must_be_whole(capsys: pytest.CaptureFixture[str]) -> None:
    _fails(capsys, ["score", "pcl5", "--answers", "0", "--pcl5-cutpoint", "32.5"], "whole number")


def test_screen_non_utf8(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "intake.json"
    path.write_bytes(b"\xff\xfe{")
    _fails(capsys, ["screen", str(path)], "not UTF-8")
