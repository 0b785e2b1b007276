"""The simulator against real processes: one short Poisson burst through the real server
and worker on loopback, replayed by the simulator with each job's logged time.

The tolerance comes from the repeated calibration (``bench/scaling_calibration.py
--repeats 3``, bench/results/scaling_calibration.json): on this shared, loaded machine
every predicted/measured ratio of p50, p95 and drain over 18 runs (three rates up to the
capacity, one and two workers) fell between 0.80 and 1.06. A burst a quarter as long has
fewer jobs and more noise, hence the wider band here; the model this replaced (a fixed
receive wait added to every job) predicted 1.5 to 3 times the measured latency near
capacity, far outside it.
"""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cdk.fleet_simulator import CALIBRATION_FILE

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
LOW, HIGH = 0.7, 1.3


def test_the_simulator_predicts_a_real_burst_near_capacity(tmp_path: Path) -> None:
    calibration = tmp_path / "calibration.json"
    shutil.copy(CALIBRATION_FILE, calibration)
    command = [
        sys.executable,
        str(REPO / "bench" / "scaling_calibration.py"),
        "--skip-measure",
        "--output",
        str(calibration),
        "--fractions",
        "0.8",
        "--workers",
        "1",
        "--burst-seconds",
        "6",
    ]
    subprocess.run(command, check=True, timeout=300, cwd=REPO, capture_output=True)
    (run,) = json.loads(calibration.read_text())["validation"]
    assert run["uploads"] > 50
    for name, ratio in run["ratio"].items():
        assert LOW <= ratio <= HIGH, f"{name}: predicted/measured {ratio:.2f} ({run})"
