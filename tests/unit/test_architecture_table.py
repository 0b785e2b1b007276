"""docs/architecture.md's package table against the tree: every package has its row (or,
for a subpackage, its name in its parent's row), and every file a row names exists.
"""

import re
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
ARCHITECTURE = REPO_ROOT / "docs" / "architecture.md"
# Packages outside src/, at the repository's root.
ROOT_PACKAGES = ("cdk", "fleet_model")


def _rows() -> dict[Path, str]:
    """Each row's directory and what its "holds" cell says."""
    text = ARCHITECTURE.read_text()
    start = text.index("| package | holds |")
    rows: dict[Path, str] = {}
    for line in text[start:].splitlines()[2:]:
        if not line.startswith("|"):
            break
        package, holds = (cell.strip() for cell in line.strip("|").split("|")[:2])
        # "`cdk/`, `app.py`": the first name is the row's directory.
        rows[REPO_ROOT / re.findall(r"`([^`]+)`", package)[0].rstrip("/")] = holds
    return rows


def _packages() -> list[Path]:
    found = [init.parent for init in (REPO_ROOT / "src").rglob("__init__.py")]
    return sorted(found + [REPO_ROOT / name for name in ROOT_PACKAGES])


def test_every_package_has_a_row_or_is_named_in_its_parents() -> None:
    rows = _rows()
    for package in _packages():
        if package in rows:
            continue
        parent = rows.get(package.parent)
        assert parent is not None, f"{package.relative_to(REPO_ROOT)} has no row"
        # `containers/`, or a file in it: `queues/consumer.py`.
        assert f"`{package.name}/" in parent, (
            f"{package.relative_to(REPO_ROOT)} is not named in {package.parent.name}'s row"
        )


def test_every_file_a_row_names_exists() -> None:
    for directory, holds in _rows().items():
        for name in re.findall(r"`([\w/]+\.(?:py|json))`", holds):
            # A name is under the row's directory (at any depth), or a path from the root.
            found = (REPO_ROOT / name).exists() or any(directory.rglob(name))
            assert found, (
                f"docs/architecture.md names {name} under {directory.relative_to(REPO_ROOT)}, "
                "which has no such file"
            )
