"""The lock files: every dependency of pyproject.toml pinned, the image's pins among them.

``make lock`` writes both from pyproject.toml; these fail when a dependency was added or
changed there without running it (after a merge, say), before a deploy would find out.
"""

import re
import tomllib
from pathlib import Path

import pytest
from cdk_synthesis import REPO_ROOT
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

PYPROJECT = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
LOCK = REPO_ROOT / "requirements.lock"
RUNTIME_LOCK = REPO_ROOT / "image-builder" / "requirements.lock"
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9_.-]*)==([^\s;\\]+)", re.MULTILINE)


def _pins(lock: Path) -> dict[str, str]:
    return {canonicalize_name(name): version for name, version in PIN.findall(lock.read_text())}


def _unpinned(requirements: list[str], pins: dict[str, str]) -> list[str]:
    """Requirements the lock does not pin, or pins at a version they do not allow."""
    missing = []
    for text in requirements:
        requirement = Requirement(text)
        pinned = pins.get(canonicalize_name(requirement.name))
        if pinned is None or not requirement.specifier.contains(pinned, prereleases=True):
            missing.append(f"{text} (locked: {pinned})")
    return missing


def test_the_image_pins_every_runtime_dependency_and_the_build_backend() -> None:
    runtime = [*PYPROJECT["project"]["dependencies"], *PYPROJECT["build-system"]["requires"]]
    assert _unpinned(runtime, _pins(RUNTIME_LOCK)) == [], "run `make lock`"
    # Every pin carries its hashes, so the wheelhouse and the AMI install check them.
    lines = RUNTIME_LOCK.read_text().splitlines()
    pins = [n for n, line in enumerate(lines) if re.match(r"[A-Za-z0-9][\w.-]*==", line)]
    assert len(pins) >= len(_pins(RUNTIME_LOCK))
    unhashed = [
        lines[n]
        for n in pins
        if not (lines[n].endswith("\\") and lines[n + 1].lstrip().startswith("--hash=sha256:"))
    ]
    assert unhashed == []


@pytest.mark.parametrize("extra", sorted(PYPROJECT["project"]["optional-dependencies"]))
def test_every_extra_is_pinned(extra: str) -> None:
    requirements = PYPROJECT["project"]["optional-dependencies"][extra]
    assert _unpinned(requirements, _pins(LOCK)) == [], "run `make lock`"


def test_installs_and_the_image_use_the_same_versions() -> None:
    pins = _pins(LOCK)
    runtime = _pins(RUNTIME_LOCK)
    # The build backend is only the image's: installs here build in pip's isolation.
    backend = {
        canonicalize_name(Requirement(r).name) for r in PYPROJECT["build-system"]["requires"]
    }
    shared = runtime.keys() - backend
    assert shared
    assert {name: pins.get(name) for name in shared} == {name: runtime[name] for name in shared}
