"""The locked wheels the AMI installs from, with no package index on the build instance.

``image-builder/requirements.lock`` (``make lock``) pins every runtime dependency, and the
build backend, with their hashes. At synthesis the wheels for Amazon Linux 2023's Python
and the image's architecture are downloaded once per lock into ``.cache/wheelhouse/`` and
shipped as an asset beside the app, so a rebuild installs exactly what was tested.
"""

import hashlib
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
RUNTIME_LOCK = REPO_ROOT / "image-builder" / "requirements.lock"
CACHE = REPO_ROOT / ".cache" / "wheelhouse"
# Amazon Linux 2023's python3.11 package, and the manylinux tags its glibc (2.34) accepts
# that PyPI's wheels are published under.
PYTHON_VERSION = "3.11"
ABI = "cp311"
MANYLINUX_TAGS = ("manylinux_2_34", "manylinux_2_28", "manylinux_2_17", "manylinux2014")
MACHINES = {"arm64": "aarch64", "x86_64": "x86_64"}


def wheelhouse(architecture: str, lock: Path = RUNTIME_LOCK) -> Path:
    """A directory holding a wheel for every pin of ``lock``, for ``architecture``.

    Downloaded by pip (hash-checked against the lock) the first time a lock is seen, then
    reused; raises ``subprocess.CalledProcessError`` when a pin has no such wheel.
    """
    digest = hashlib.sha256(lock.read_bytes()).hexdigest()[:16]
    target = CACHE / f"{architecture}-{digest}"
    if target.is_dir():
        return target
    CACHE.mkdir(parents=True, exist_ok=True)
    # A directory of this process's own, renamed into place whole: a synthesis running
    # beside this one (pytest -n) never sees half a wheelhouse.
    partial = Path(tempfile.mkdtemp(prefix=f"{target.name}.", dir=CACHE))
    platforms = [f"--platform={tag}_{MACHINES[architecture]}" for tag in MANYLINUX_TAGS]
    subprocess.run(
        [
            sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
            "--only-binary=:all:", "--no-deps", *platforms,
            f"--python-version={PYTHON_VERSION}", "--implementation=cp", f"--abi={ABI}",
            "--requirement", str(lock), "--dest", str(partial),
        ],
        check=True,
    )  # fmt: skip
    try:
        partial.rename(target)
    except OSError:
        # Another synthesis finished the same download first; its copy is as good.
        shutil.rmtree(partial)
    return target
