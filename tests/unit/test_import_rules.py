"""The package import rules of docs/architecture.md, read from the source with ``ast``.

The shared package imports no process package; the server, the worker and the reconciler
import only the shared package (never each other); the server's transport (nginx and
gunicorn, ``server.transport``) wraps its app, which never imports it; the CLI is an
HTTP client of the API and imports nothing of the project but the API's vocabulary
(checked to load nothing beyond the standard library); the CDK app takes only the key
scheme from ``src``, so the code and the IAM policies cannot disagree about keys, and
nothing else of the application (Flask, boto3 adapters, Pillow plugins) is loaded at
synthesis. The rules see only the project's own imports; what synthesis loads from
elsewhere is seen by importing the CDK app in a fresh interpreter. The fleet model is a
tool beside the CDK app: it reads the deployed policy's plain values, and the app never
imports it.
"""

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.fresh_interpreter import modules_loaded_by, packages_loaded_by

REPO_ROOT = Path(__file__).resolve().parents[2]
PROJECT_PACKAGES = frozenset(
    (
        "sharer",
        "server",
        "worker",
        "reconciler",
        "cli",
        "cdk",
        "fleet_model",
        "webhook_delivery",
        "admin",
    )
)
# The packages at the repository's root, beside ``src/``.
ROOT_PACKAGES = frozenset(("cdk", "fleet_model"))
# The key scheme: what the CDK app may import from src, and all that it imports itself.
# And the metric names (constants only), which the CloudWatch metrics share with the app's.
# The thumbnail variants belong to it: which variant keys exist is the policy's to say.
KEY_SCHEME = frozenset(
    (
        "sharer.key_scheme",
        "sharer.thumbnail_sizes",
        "sharer.formats",
        "sharer.metric_names",
        "sharer.thumbnail_variants",
    )
)
# What synthesis must not load: the web framework, the AWS SDK and any image decoder.
NOT_LOADED_AT_SYNTHESIS = frozenset(("PIL", "pi_heif", "flask", "boto3"))
# How requests reach the server's app (nginx, gunicorn): it may import the app, and only
# the process's entry point imports it, so the app runs the same under Flask's test client.
TRANSPORT = frozenset(("server.transport",))
TRANSPORT_STARTERS = frozenset(("server.__main__",))
# What the CLI may import from src: the names of an image's URLs and the shape of its
# id, so that what the CLI checks in a 202 is what the server sends. Pure data on the
# standard library alone: the CLI stays a plain HTTP client (see the probe below).
API_VOCABULARY = frozenset(("sharer.thumbnail_sizes", "sharer.ids"))
# Each package and the other project packages it may import (its own is always allowed).
ALLOWED_PACKAGES: dict[str, frozenset[str]] = {
    "sharer": frozenset(),
    "server": frozenset(("sharer",)),
    "worker": frozenset(("sharer",)),
    "reconciler": frozenset(("sharer",)),
    "webhook_delivery": frozenset(("sharer",)),
    # sharer-admin: operator commands on the shared backends.
    "admin": frozenset(("sharer",)),
    "cli": frozenset(),
    "cdk": frozenset(),
    # The sizing tool: the deployed scaling policy and the stage defaults, plain values.
    "fleet_model": frozenset(("cdk.scaling", "cdk.config")),
}


def package_modules(package: str) -> list[Path]:
    """``package``'s modules: ``cdk/`` with the CDK app (``app.py``) and ``fleet_model/``
    at the root, the others in ``src/``."""
    if package == "cdk":
        return [*sorted((REPO_ROOT / "cdk").rglob("*.py")), REPO_ROOT / "app.py"]
    if package in ROOT_PACKAGES:
        return sorted((REPO_ROOT / package).rglob("*.py"))
    return sorted((REPO_ROOT / "src" / package).rglob("*.py"))


def module_name(path: Path) -> str:
    """The dotted name ``path`` is imported as (``src/`` and the repository root on the path)."""
    relative = path.relative_to(
        REPO_ROOT / "src" if path.is_relative_to(REPO_ROOT / "src") else REPO_ROOT
    )
    parts = list(relative.with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path) -> Iterator[str]:
    """Every module ``path`` imports, relative imports resolved, ``TYPE_CHECKING`` ones too."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    own = module_name(path).split(".")
    package = own if path.name == "__init__.py" else own[:-1]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            stem = ".".join([*base, node.module] if node.module else base)
            yield stem
            if not node.module:  # ``from . import x``: x is a module of the package
                yield from (f"{stem}.{alias.name}" for alias in node.names)


def project_imports(package: str) -> Iterator[tuple[str, str]]:
    """(importing module, imported project module) for every module of ``package``."""
    for path in package_modules(package):
        for imported in imported_modules(path):
            if imported.split(".")[0] in PROJECT_PACKAGES:
                yield module_name(path), imported


def within(module: str, allowed: frozenset[str]) -> bool:
    """Whether ``module`` is one of ``allowed`` or inside one of them."""
    return any(module == name or module.startswith(f"{name}.") for name in allowed)


@pytest.mark.parametrize("package", sorted(ALLOWED_PACKAGES))
def test_each_package_imports_only_what_its_rule_allows(package: str) -> None:
    allowed = ALLOWED_PACKAGES[package] | {package}
    if package == "cdk":
        allowed |= KEY_SCHEME
    if package == "cli":
        allowed |= API_VOCABULARY
    broken = [
        f"{importer} imports {imported}"
        for importer, imported in project_imports(package)
        if not within(imported, allowed)
    ]
    assert broken == [], f"{package} breaks its import rule: {broken}"


def test_the_key_scheme_imports_nothing_else_of_the_project() -> None:
    broken = [
        f"{importer} imports {imported}"
        for importer, imported in project_imports("sharer")
        if within(importer, KEY_SCHEME) and not within(imported, KEY_SCHEME)
    ]
    assert broken == [], f"the key scheme the CDK app loads grew: {broken}"


def test_the_server_app_never_imports_its_transport() -> None:
    broken = [
        f"{importer} imports {imported}"
        for importer, imported in project_imports("server")
        if within(imported, TRANSPORT) and not within(importer, TRANSPORT | TRANSPORT_STARTERS)
    ]
    assert broken == [], f"the app reaches into its transport: {broken}"


def test_the_api_vocabulary_loads_nothing_beyond_the_standard_library() -> None:
    # Less what any interpreter has at start (the editable installs' import hooks).
    at_start = modules_loaded_by("sys")
    loaded = frozenset().union(*(modules_loaded_by(name) for name in API_VOCABULARY)) - at_start
    assert loaded >= API_VOCABULARY  # the probe saw the imports
    outside = [
        name
        for name in loaded
        if name.split(".")[0] not in sys.stdlib_module_names
        and name not in API_VOCABULARY | {"sharer"}
    ]
    assert outside == [], f"the CLI's vocabulary loads more than the standard library: {outside}"


def test_the_rules_see_the_imports_that_are_there() -> None:
    # Without this a collector that found nothing would pass every rule above.
    assert ("server.app", "sharer.settings") in set(project_imports("server"))
    assert ("cdk.access", "sharer.key_scheme") in set(project_imports("cdk"))
    assert ("server.containers.jpeg", "server.containers.walked") in set(project_imports("server"))
    assert ("app", "cdk.stack") in set(project_imports("cdk"))
    assert ("fleet_model.fleet_simulator", "cdk.scaling") in set(project_imports("fleet_model"))
    server = set(project_imports("server"))
    assert ("server.transport.nginx_config", "server.upload_admission") in server
    assert ("server.__main__", "server.transport.processes") in server
    assert ("cli.untrusted", "sharer.thumbnail_sizes") in set(project_imports("cli"))


def test_every_package_in_src_has_a_rule() -> None:
    # A new package would otherwise import what it liked, unseen by the rules above.
    packages = {path.parent.name for path in (REPO_ROOT / "src").glob("*/__init__.py")}
    assert packages == set(ALLOWED_PACKAGES) - ROOT_PACKAGES


def test_synthesis_loads_no_pillow_flask_or_boto3() -> None:
    loaded = packages_loaded_by("app")  # the CDK app, and through it cdk.stack
    assert {"aws_cdk", "cdk"} <= loaded  # the stack was imported, not just the app
    assert loaded & NOT_LOADED_AT_SYNTHESIS == set()


def test_the_probe_sees_the_decoders_where_they_are_imported() -> None:
    # Without this a probe that saw nothing would pass the test above.
    assert {"PIL", "pi_heif"} <= packages_loaded_by("sharer.image_decoding")
