"""Every ``SHARER_*`` name the stack and the image give an instance is one a process
reads (``sharer.settings.known_variables``): a typo in them fails here, not silently on
an instance (where the process would refuse to start)."""

import json
import re

from aws_cdk.assertions import Match
from cdk_synthesis import REPO_ROOT, Synthesized, render

from sharer.settings import known_variables, unknown_variables

VARIABLE = re.compile(r"SHARER_[A-Z0-9_]*[A-Z0-9]")
# What the image installs (units, scripts, the component) and what the stack is made from.
SOURCES = ("image-builder", "cdk")


def test_every_settings_parameter_names_only_known_settings(synthesized: Synthesized) -> None:
    parameters = synthesized.resources(
        "AWS::SSM::Parameter",
        {"Properties": {"Description": Match.string_like_regexp("^Environment of a sharer unit")}},
    )
    environments = {
        render(p["Properties"]["Name"]): dict(
            line.split("=", 1) for line in render(p["Properties"]["Value"]).splitlines()
        )
        for p in parameters.values()
    }
    stack = synthesized.stack.stack_name
    assert {f"/sharer/{stack}/server", f"/sharer/{stack}/worker"} <= set(environments)
    unknown = {name: unknown_variables(env) for name, env in environments.items()}
    assert {name: names for name, names in unknown.items() if names} == {}


def test_the_template_names_only_known_settings(synthesized: Synthesized) -> None:
    names = set(VARIABLE.findall(json.dumps(synthesized.document)))
    assert names  # the settings parameters at least
    assert names - known_variables() == set()


def test_the_image_and_the_stack_sources_name_only_known_settings() -> None:
    named = {
        f"{path.relative_to(REPO_ROOT)}: {name}"
        for folder in SOURCES
        for path in sorted((REPO_ROOT / folder).rglob("*"))
        if path.is_file() and path.suffix in ("", ".py", ".sh", ".service", ".timer", ".yml")
        for name in VARIABLE.findall(path.read_text(encoding="utf-8"))
        if name not in known_variables()
    }
    assert named == set()
