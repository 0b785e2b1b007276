"""cdk-nag (AwsSolutions): no finding left unacknowledged, every acknowledgement reasoned."""

import json
from pathlib import Path

import pytest
from aws_cdk import App, Stack, Validations
from aws_cdk import aws_s3 as s3
from cdk_nag import AwsSolutionsChecks
from cdk_synthesis import Synthesized

MIN_REASON_WORDS = 8


def test_synthesis_left_no_violation(synthesized: Synthesized) -> None:
    report = json.loads((synthesized.outdir / "validation-report.json").read_text())
    violations = [
        (plugin["pluginName"], violation["ruleName"])
        for plugin in report["pluginReports"]
        for violation in plugin.get("violations", [])
    ]
    assert violations == []
    messages = [
        (path, entry["type"])
        for path, entries in synthesized.metadata().items()
        for entry in entries
        if entry["type"] in ("aws:cdk:warning", "aws:cdk:error")
    ]
    assert messages == []


def test_every_acknowledgement_names_a_rule_and_gives_a_reason(synthesized: Synthesized) -> None:
    acknowledged = {
        (path, rule): reason
        for path, entries in synthesized.metadata().items()
        for entry in entries
        if entry["type"] == "aws:cdk:acknowledged-rules"
        for rule, reason in entry["data"].items()
        if "AwsSolutions-" in rule
    }
    assert acknowledged, "cdk-nag acknowledgements are missing from the assembly metadata"
    for (path, rule), reason in acknowledged.items():
        assert len(reason.split()) >= MIN_REASON_WORDS, (path, rule, reason)
        # Beside its resource: never on the stack as a whole.
        assert path.count("/") >= 2, (path, rule)


def test_an_unacknowledged_finding_fails_synthesis(tmp_path: Path) -> None:
    # The control: the same checks, in the same in-memory synthesis, reject a bare bucket.
    app = App(outdir=str(tmp_path))
    s3.Bucket(Stack(app, "Control"), "Unlogged", enforce_ssl=True)
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    with pytest.raises(RuntimeError, match="AwsSolutions-S1"):
        app.synth()
