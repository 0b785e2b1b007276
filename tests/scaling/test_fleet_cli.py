"""The simulator's command line: one run to JSON, and bad input refused with exit 2."""

import json
from pathlib import Path

import pytest

from fleet_model.command import main


def _scenario(tmp_path: Path, doc: object) -> Path:
    path = tmp_path / "scenario.json"
    path.write_text(json.dumps(doc))
    return path


GOOD = {"name": "short", "minutes": 5, "rate": [[0, 1], [2, 3]]}


def _run(tmp_path: Path, calibration: Path, doc: object, *options: str) -> int:
    scenario = _scenario(tmp_path, doc)
    return main(["--scenario", str(scenario), "--calibration", str(calibration), *options])


def test_a_run_writes_its_summary_and_time_series(
    tmp_path: Path, measured_calibration: Path
) -> None:
    out = tmp_path / "run.json"
    code = _run(tmp_path, measured_calibration, GOOD, "--json", str(out), "--seed", "3")
    assert code == 0
    summary = json.loads(out.read_text())
    assert summary["scenario"] == "short"
    assert summary["jobs"] > 0
    assert set(summary["latency_s"]) == {"p50", "p95", "p99", "max"}
    assert isinstance(summary["objective_met"], bool)
    assert summary["dollars"] > 0
    assert [round(s["minute"]) for s in summary["series"][:5]] == [1, 2, 3, 4, 5]
    assert {"rate", "visible", "in_flight", "in_service", "desired", "oldest_age_s"} <= set(
        summary["series"][0]
    )


@pytest.mark.parametrize(
    ("doc", "options", "named"),
    [
        ({**GOOD, "burst": 2}, [], "unknown field"),
        ({**GOOD, "rate": [[0, -1]]}, [], "negative"),
        ({**GOOD, "rate": [[1, 1]]}, [], "minute 0"),
        ({"name": "x", "rate": [[0, 1]]}, [], "minutes"),
        (GOOD, ["--fleet-min", "5", "--fleet-max", "2"], "fleet-min 5"),
        (GOOD, ["--steps", '{"scaleOut": [[10, null, 50]]}'], "scaling steps"),
        (
            GOOD,
            ["--steps", '{"scaleOut": [[10, null, 50]], "scaleIn": [[null, 3, -25]]}'],
            "one job",
        ),
        (GOOD, ["--instance-type", "z9.huge"], "z9.huge"),
    ],
)
def test_bad_input_exits_2_naming_what_is_wrong(
    tmp_path: Path,
    measured_calibration: Path,
    capsys: pytest.CaptureFixture[str],
    doc: object,
    options: list[str],
    named: str,
) -> None:
    code = _run(tmp_path, measured_calibration, doc, *options)
    assert code == 2
    assert named in capsys.readouterr().err


def test_a_plot_is_written_when_matplotlib_is_there(
    tmp_path: Path, measured_calibration: Path
) -> None:
    pytest.importorskip("matplotlib")
    plot = tmp_path / "run.png"
    assert _run(tmp_path, measured_calibration, GOOD, "--plot", str(plot)) == 0
    assert plot.read_bytes().startswith(b"\x89PNG")


@pytest.mark.parametrize(
    ("options", "named"),
    [(["--scenario", "s.json"], "--calibration"), (["--cost"], "--request-counts")],
)
def test_the_measured_inputs_are_paths_the_caller_names(
    measured_calibration: Path,
    capsys: pytest.CaptureFixture[str],
    options: list[str],
    named: str,
) -> None:
    # The package knows no file under bench/results/: without the path it refuses.
    given = [] if named == "--calibration" else ["--calibration", str(measured_calibration)]
    with pytest.raises(SystemExit) as refused:
        main([*options, *given])
    assert refused.value.code == 2
    assert named in capsys.readouterr().err
