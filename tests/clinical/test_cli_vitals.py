"""`ketaflow vitals classify` as a clinician or a script would call it (issue 10, item 12).

Sources of the rules it prints: Ketalar label (apnoea), NEWS2 (RR <= 8), Spravato label (loss of
consciousness), Yip 2022 (hypertensive emergency); see ketaflow.clinical.monitoring."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ketaflow.cli import main
from ketaflow.cli.vitals import SYMPTOMS
from ketaflow.clinical.monitoring import EndOrganSymptom

NORMAL = [
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
]


def _with(**changes: str) -> list[str]:
    argv = ["vitals", "classify", *NORMAL]
    for name, value in changes.items():
        argv[argv.index("--" + name.replace("_", "-")) + 1] = value
    return argv


def _json(capsys: pytest.CaptureFixture[str], argv: list[str]) -> Any:
    assert main([*argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_normal_readings(capsys: pytest.CaptureFixture[str]) -> None:
    data = _json(capsys, _with())
    assert data == {
        "tier": "normal",
        "actions": [],
        "reasons": ["All readings are within the clinic's limits."],
    }


def test_apnoea_is_an_emergency_stop_first(capsys: pytest.CaptureFixture[str]) -> None:
    data = _json(capsys, _with(resp_rate_per_min="0"))
    assert data["tier"] == "emergency"
    assert data["actions"][:2] == ["stop_infusion", "support_breathing"]
    assert "Apnoea" in data["reasons"][0]


def test_rise_from_baseline_and_symptom(capsys: pytest.CaptureFixture[str]) -> None:
    argv = [
        *_with(systolic_mmhg="150", diastolic_mmhg="95"),
        "--baseline-systolic-mmhg",
        "120",
        "--baseline-diastolic-mmhg",
        "75",
        "--symptom",
        "severe_headache",
    ]
    data = _json(capsys, argv)
    assert data["tier"] == "emergency"
    assert data["actions"][0] == "stop_infusion"
    assert any("baseline" in r for r in data["reasons"])


def test_text_output_numbers_the_actions(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*_with(), "--symptom", "seizure"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("tier: emergency\n")
    assert "  1. Stop the infusion (stop_infusion)" in out


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"systolic_mmhg": "16", "diastolic_mmhg": "10"}, "looks like kPa"),
        ({"spo2_pct": "0.97"}, "looks like a fraction"),
        ({"systolic_mmhg": "80", "diastolic_mmhg": "90"}, "not below the systolic"),
        ({"heart_rate_bpm": "fast"}, "--heart-rate-bpm: 'fast' is not a number"),
        ({"heart_rate_bpm": "inf"}, "not a finite number"),
        ({"resp_rate_per_min": "1e308"}, "respiratory rate"),
    ],
)
def test_impossible_input_exits_2_with_one_line(
    capsys: pytest.CaptureFixture[str], changes: dict[str, str], message: str
) -> None:
    assert main(_with(**changes)) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert err.startswith("ketaflow vitals: error: ")
    assert message in err


def test_unknown_symptom_names_the_choices(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*_with(), "--symptom", "hiccups"]) == 2
    assert "reduced_consciousness" in capsys.readouterr().err


def test_help_lists_every_symptom_of_the_core() -> None:
    assert set(SYMPTOMS) == {s.value for s in EndOrganSymptom}
    script = Path(sys.executable).parent / "ketaflow"
    out = subprocess.run(
        [str(script), "vitals", "classify", "--help"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for name in SYMPTOMS:
        assert name in " ".join(out.split())


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        _with(),
        ["score", "phq9", "--answers", "1,1,1,1,1,1,1,1,0"],
        ["dose", "--help"],
        ["pk", "simulate", "--weight-kg", "70", "--dose-mg-per-kg", "0.5", "--over-min", "40"],
        ["pk", "population", "--help"],
        [
            "pk",
            "population",
            "--model",
            "domino",
            "--n",
            "2000",
            "--weight-kg",
            "70",
            "--dose-mg-per-kg",
            "0.5",
            "--over-min",
            "40",
        ],
    ],
)
def test_commands_import_neither_django_nor_matplotlib_nor_dask(argv: list[str]) -> None:
    """Issue 10, items 20 and 22: `--help`, score, dose, vitals, pk simulate and pk population
    without --plot start fast: the web framework, the plotting library and the cluster
    scheduler stay unloaded."""
    code = (
        "import sys\n"
        "from ketaflow.cli import main\n"
        "try:\n"
        f"    main({argv!r})\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = [m for m in ('django', 'matplotlib', 'dask') if m in sys.modules]\n"
        "print(heavy)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip().endswith("[]"), out
