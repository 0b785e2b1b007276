"""The ``sharer`` command, as installed, against the real server and worker."""

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from support.services import Service, local_service

SHARER = Path(sys.executable).with_name("sharer")
# Bound on one run of the command: a hung client fails the test instead of the suite.
RUN_TIMEOUT = 120.0


@dataclass(frozen=True)
class Run:
    """One finished run of the command."""

    code: int
    out: str
    err: str

    def json_lines(self) -> list[dict[str, object]]:
        """Each stdout line, parsed (every line must be a JSON object)."""
        return [json.loads(line) for line in self.out.splitlines()]


def sharer(*args: str | Path, env: dict[str, str] | None = None) -> Run:
    """Run ``sharer ARGS`` and wait (bounded)."""
    done = subprocess.run(
        [str(SHARER), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        env=env,
        check=False,
    )
    return Run(done.returncode, done.stdout, done.stderr)


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """A server and one worker on files and SQLite."""
    yield from local_service(tmp_path_factory.mktemp("cli"), workers=1)
