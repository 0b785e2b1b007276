"""Processes started the way the image starts them: the systemd units of image-builder/.

``Unit`` reads a unit file's [Service] section (Environment=, EnvironmentFile=,
ExecStartPre=, ExecStart=, TimeoutStopSec=) and runs it the way systemd would on an
instance, with the image's paths mapped to this checkout: /opt/sharer/bin/NAME is
image-builder/scripts/NAME.sh (how the component installs them), /opt/sharer/venv is this
venv, /run and /var/log/sharer live under the instance's own directory. So the settings
come from the SSM parameter through sharer-fetch-settings (the AWS CLI, signed as the
instance's role), and a mistake in a unit or in the settings shows here.

What this does not do as systemd does: run as the ``sharer`` user, or apply the sandboxing
options (ProtectSystem...). Each instance owns port 8080 on its own machine; here they
share one, so ``instance_env`` (SHARER_BIND) is applied over the settings file.
"""

import contextlib
import os
import re
import signal
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from support.rehearsal.template import REPO_ROOT

UNITS = REPO_ROOT / "image-builder" / "systemd"
SCRIPTS = REPO_ROOT / "image-builder" / "scripts"
IMAGE_BIN = "/opt/sharer/bin/"
IMAGE_VENV = "/opt/sharer/venv/"
PRE_START_TIMEOUT = 60.0
_VARIABLE = re.compile(r"\$\{(\w+)\}")


def parse_unit(path: Path) -> dict[str, list[str]]:
    """The [Service] directives of a unit file, each with every value it is given."""
    directives: dict[str, list[str]] = {}
    section = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            section = line
            continue
        if section == "[Service]":
            key, _, value = line.partition("=")
            directives.setdefault(key, []).append(value)
    return directives


def read_environment_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines of an EnvironmentFile (comments and blank lines skipped)."""
    pairs = (line.split("=", 1) for line in path.read_text().splitlines())
    return {k.strip(): v for k, v in (p for p in pairs if len(p) == 2) if not k.startswith("#")}


@dataclass
class Unit:
    """One instance's unit: ``name`` is a unit file, ``instance`` the ``%i`` of a template
    unit, ``root`` the instance's own file system (its /etc/sharer, /run, /var/log)."""

    name: str
    instance: str
    root: Path
    bootstrap: Mapping[str, str]
    instance_env: Mapping[str, str] = field(default_factory=dict)
    process: "subprocess.Popen[bytes] | None" = None

    def __post_init__(self) -> None:
        self.directives = {
            key: [value.replace("%i", self.instance) for value in values]
            for key, values in parse_unit(UNITS / self.name).items()
        }
        runtime = [f"run/{d}" for d in self.directives.get("RuntimeDirectory", [])]
        for directory in ("etc/sharer", "run", "var/log/sharer", *runtime):
            (self.root / directory).mkdir(parents=True, exist_ok=True)
        # What sharer-start-role writes at first boot, plus the endpoints of this machine.
        (self.root / "etc/sharer/bootstrap.env").write_text(
            "".join(f"{k}={v}\n" for k, v in self.bootstrap.items())
        )

    @property
    def log_path(self) -> Path:
        """Where StandardOutput= appends."""
        (target,) = self.directives.get("StandardOutput", ["append:/var/log/sharer/unit.log"])
        return self._path(target.removeprefix("append:"))

    @property
    def stop_timeout(self) -> float:
        """TimeoutStopSec=: how long a stop waits before SIGKILL."""
        return float(self.directives.get("TimeoutStopSec", ["90"])[0])

    def start(self) -> "subprocess.Popen[bytes]":
        """ExecStartPre= (waited for), then ExecStart= in a process group of its own."""
        for command in self.directives.get("ExecStartPre", []):
            subprocess.run(
                self._command(command),
                env=self._environment(),
                check=True,
                timeout=PRE_START_TIMEOUT,
                capture_output=True,
            )
        (command,) = self.directives["ExecStart"]
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            self._command(command),
            env=self._environment() | dict(self.instance_env),
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
        return self.process

    def stop(self) -> None:
        """KillMode=mixed: SIGTERM to the main process, SIGKILL to the group after
        TimeoutStopSec=."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(self.stop_timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        """The instance dies: SIGKILL to every process of the unit at once."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)

    def _environment(self) -> dict[str, str]:
        inherited = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "SHARER_"))}
        # This venv's console scripts, then the AWS CLI `make rehearsal-tools` installs
        # when the machine has none.
        bins = f"{Path(sys.prefix) / 'bin'}:{Path(sys.prefix) / 'awscli' / 'bin'}"
        env = inherited | {"PATH": f"{bins}:{os.environ['PATH']}"}
        for assignment in self.directives.get("Environment", []):
            key, _, value = assignment.partition("=")
            env[key] = self._argument(value)
        for name in self.directives.get("EnvironmentFile", []):
            optional = name.startswith("-")
            path = self._path(name.lstrip("-"))
            if path.exists():
                env |= read_environment_file(path)
            elif not optional:
                raise FileNotFoundError(f"{self.name}: EnvironmentFile {path} is missing")
        return env

    def _command(self, line: str) -> list[str]:
        environment = self._environment()
        words = line.split()
        expanded = [_VARIABLE.sub(lambda m: environment.get(m.group(1), ""), w) for w in words]
        return [self._executable(expanded[0]), *(self._argument(w) for w in expanded[1:])]

    def _executable(self, path: str) -> str:
        if path.startswith(IMAGE_BIN):
            return str(SCRIPTS / f"{path.removeprefix(IMAGE_BIN)}.sh")
        if path.startswith(IMAGE_VENV):
            return str(Path(sys.prefix) / path.removeprefix(IMAGE_VENV))
        return path

    def _argument(self, word: str) -> str:
        """A path of the instance's file system moved under ``root``; any other word as is."""
        return str(self._path(word)) if word.startswith(("/run/", "/etc/sharer", "/var/")) else word

    def _path(self, path: str) -> Path:
        return self.root / path.lstrip("/")
