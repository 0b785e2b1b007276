"""cfn-lint, as installed beside pytest, on every template of the assembly."""

import json
import subprocess
import sys
from pathlib import Path

from cdk_synthesis import Synthesized

# Warnings about resources CDK generates, by rule and resource type: the singleton
# function behind AwsCustomResource (this app declares no function of its own) carries a
# DependsOn on its role as well as a GetAtt of it.
ALLOWED_WARNINGS = {("W3005", "AWS::Lambda::Function")}


def test_templates_have_no_errors_and_only_known_warnings(synthesized: Synthesized) -> None:
    templates = sorted(synthesized.outdir.glob("*.template.json"))
    assert templates
    cfn_lint = Path(sys.executable).with_name("cfn-lint")
    result = subprocess.run(
        [str(cfn_lint), "--format", "json", *map(str, templates)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    findings = json.loads(result.stdout or "[]")
    errors = [f for f in findings if f["Level"] == "Error"]
    assert errors == [], errors
    unexpected = [
        f
        for f in findings
        if (f["Rule"]["Id"], _resource_type(Path(f["Filename"]), f["Location"]["Path"]))
        not in ALLOWED_WARNINGS
    ]
    assert unexpected == [], unexpected
    assert result.returncode in (0, 4), result.stderr


def _resource_type(template: Path, path: list[object]) -> str | None:
    if len(path) < 2 or path[0] != "Resources":
        return None
    resource_type: str = json.loads(template.read_text())["Resources"][path[1]]["Type"]
    return resource_type
