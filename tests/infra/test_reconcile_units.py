"""The reconciler's systemd units: valid, running the installed entry point on a timer."""

import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest
from cdk_synthesis import REPO_ROOT

SYSTEMD = REPO_ROOT / "image-builder" / "systemd"
SERVICE = SYSTEMD / "sharer-reconcile.service"
TIMER = SYSTEMD / "sharer-reconcile.timer"


def test_the_service_runs_the_packaged_entry_point_once_per_start() -> None:
    scripts = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["sharer-reconcile"] == "reconciler.__main__:main"
    unit = SERVICE.read_text()
    assert re.search(r"^ExecStart=/opt/sharer/venv/bin/sharer-reconcile$", unit, re.MULTILINE)
    assert re.search(r"^Type=oneshot$", unit, re.MULTILINE)
    assert re.search(r"^TimeoutStartSec=\d+$", unit, re.MULTILINE)


def test_the_timer_starts_the_service_periodically_and_is_installable() -> None:
    timer = TIMER.read_text()
    # No Unit= line: a timer starts the service of its own name.
    assert "Unit=" not in timer.replace("[Unit]", "")
    assert re.search(r"^OnUnitActiveSec=\S+$", timer, re.MULTILINE)
    assert re.search(r"^WantedBy=timers.target$", timer, re.MULTILINE)


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not here")
def test_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    # The programs exist only on the AMI; verify rejects missing ones, so they become
    # /bin/true in the copies checked here.
    for unit in (SERVICE, TIMER):
        text = unit.read_text()
        for command in re.findall(r"^Exec\w+=(\S+)", text, flags=re.MULTILINE):
            text = text.replace(command, "/bin/true")
        (tmp_path / unit.name).write_text(text)
    result = subprocess.run(
        ["systemd-analyze", "verify", str(tmp_path / SERVICE.name), str(tmp_path / TIMER.name)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (result.returncode, result.stdout + result.stderr) == (0, "")
