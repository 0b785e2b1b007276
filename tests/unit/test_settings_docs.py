"""The README's Settings table against ``src/sharer/settings.py``, read with ``ast``: every
variable the settings read is in the table and every row is one they read, with the same
default where the code's is a literal and the process whose section reads it; and no page
of the docs names a variable that nothing reads."""

import ast
import re
from pathlib import Path

from sharer.settings import (
    CommonSettings,
    ReconcilerSettings,
    ServerSettings,
    WebhookDeliverySettings,
    WorkerSettings,
    known_variables,
    variables_of,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
SETTINGS = REPO_ROOT / "src" / "sharer" / "settings.py"
DOCS = [
    REPO_ROOT / "README.md",
    REPO_ROOT / "CONTRIBUTING.md",
    REPO_ROOT / "CHANGELOG.md",
    *sorted((REPO_ROOT / "docs").glob("*.md")),
]
VARIABLE = re.compile(r"(?:SHARER|AWS)_[A-Z0-9_]*[A-Z0-9]")
# A table row: its variables (one or two, "A / B" or "A (else B)"), then the default.
ROW = re.compile(r"^\| (`[A-Z0-9_]+`[^|]*?) \| ([^|]*) \|", re.MULTILINE)
# A row's variables, then its "read by" column.
READ_BY_ROW = re.compile(r"^\| (`[A-Z0-9_]+`[^|]*?) \| [^|]* \| ([^|]*) \|", re.MULTILINE)
# The "read by" column's words: "all" for the section every process reads.
READ_BY = {
    "all": CommonSettings,
    "server": ServerSettings,
    "worker": WorkerSettings,
    "reconciler": ReconcilerSettings,
    "webhooks": WebhookDeliverySettings,
}
# Readers that call (name, default) with the variable first.
READERS = frozenset(("env.parsed", "env.get", "env.optional", "self.get"))


def variables_read() -> dict[str, str | None]:
    """Each variable ``settings.py`` reads, with its default when that is a literal (or a
    module constant holding one), else None."""
    tree = ast.parse(SETTINGS.read_text(encoding="utf-8"))
    constants = {
        node.targets[0].id: node.value.value
        for node in tree.body
        if isinstance(node, ast.Assign)
        and isinstance(node.targets[0], ast.Name)
        and isinstance(node.value, ast.Constant)
    }
    read: dict[str, str | None] = {}
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and ast.unparse(node.func) in READERS):
            continue
        name = node.args[0] if node.args else None
        if not (isinstance(name, ast.Constant) and isinstance(name.value, str)):
            continue
        default = node.args[1] if len(node.args) > 1 else None
        if isinstance(default, ast.Call) and ast.unparse(default.func) == "str":
            default = default.args[0]
        if isinstance(default, ast.Constant):
            read[name.value] = str(default.value)
        elif isinstance(default, ast.Name) and default.id in constants:
            read[name.value] = str(constants[default.id])
        else:
            read[name.value] = None
    return read


def settings_section() -> str:
    """The README's Settings section."""
    section = (REPO_ROOT / "README.md").read_text(encoding="utf-8").split("## Settings", 1)[1]
    return section.split("\n## ", 1)[0]


def settings_table() -> dict[str, str]:
    """Each variable of the README's Settings table and its default column."""
    table: dict[str, str] = {}
    for names, default in ROW.findall(settings_section()):
        # "`A` / `B` | `1` / `2`": one default each; "`A` (else `B`)": one for both.
        defaults = default.split(" / ") if " / " in names else [default]
        for index, name in enumerate(VARIABLE.findall(names)):
            table[name] = defaults[min(index, len(defaults) - 1)].strip()
    return table


def test_the_table_has_every_variable_the_settings_read_and_no_other() -> None:
    assert set(settings_table()) == set(variables_read())


def test_the_table_gives_the_literal_defaults_of_the_code() -> None:
    table = settings_table()
    differ = {
        name: (default, table[name])
        for name, default in variables_read().items()
        if default is not None and not table.get(name, "").startswith(f"`{default}`")
    }
    assert differ == {}


def test_the_table_names_the_process_that_reads_each_variable() -> None:
    table = {
        name: read_by.strip()
        for names, read_by in READ_BY_ROW.findall(settings_section())
        for name in VARIABLE.findall(names)
    }
    common = variables_of(CommonSettings)
    # A variable the common section reads is read by all; any other, by its own section.
    code = {name: "all" for name in common} | {
        name: word for word, section in READ_BY.items() for name in variables_of(section) - common
    }
    assert table == code


def test_the_docs_name_only_variables_that_are_read() -> None:
    known = set(variables_read()) | known_variables()
    unknown = [
        f"{page.relative_to(REPO_ROOT)}: {name}"
        for page in DOCS
        for name in VARIABLE.findall(page.read_text(encoding="utf-8"))
        if name.startswith("SHARER_") and name not in known
    ]
    assert unknown == []
