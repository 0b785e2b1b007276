"""Running processes under ``audit/sitecustomize.py`` and reading what it recorded."""

import json
import os
from dataclasses import dataclass
from pathlib import Path

from support.services import Service

AUDIT_DIR = Path(__file__).parent / "audit"


def audit_env(log: Path, *, path_first: Path | None = None) -> dict[str, str]:
    """Environment that loads the audit hook, logging to ``log``; ``path_first`` goes
    first on PATH (a directory of fake programs)."""
    env = {
        "PYTHONPATH": os.pathsep.join(
            p for p in (str(AUDIT_DIR), os.environ.get("PYTHONPATH")) if p
        ),
        "SHARER_AUDIT_LOG": str(log),
    }
    if path_first is not None:
        env["PATH"] = f"{path_first}{os.pathsep}{os.environ['PATH']}"
    return env


def read_audit(log: Path) -> list[dict[str, object]]:
    """Every event recorded so far: ``{"pid", "kind": "import"|"spawn", "what"}``."""
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text().splitlines()]


def fake_ghostscript(directory: Path) -> Path:
    """Put a ``gs`` that fails in ``directory``: Pillow runs ``gs`` to render an EPS, so
    with it on PATH an EPS reaching Ghostscript shows up as a spawn."""
    gs = directory / "gs"
    gs.write_text("#!/bin/sh\nexit 1\n")
    gs.chmod(0o755)
    return directory


@dataclass
class Audited:
    """A running service whose processes write audit events to ``log``."""

    service: Service
    log: Path

    def events(self) -> list[dict[str, object]]:
        """What its processes recorded so far."""
        return read_audit(self.log)
