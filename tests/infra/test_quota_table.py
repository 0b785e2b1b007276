"""The quota store on AWS: the DynamoDB table, the servers' grant and settings, and
the metrics: /metrics kept off CloudFront, the workers' files where they may write;
asserted on the synthesized template."""

import json
import re
import subprocess
from fnmatch import fnmatchcase

import pytest
from aws_cdk import App, Stack
from aws_cdk.assertions import Match, Template
from cdk_synthesis import REPO_ROOT, Synthesized, grants

from cdk.cdn import METRICS_PATH
from cdk.quota_table import EXPIRES_ATTRIBUTE, PARTITION_KEY, QuotaTable
from cdk.upload_tier import METRICS_PORT
from sharer import quota_counters


def test_the_table_is_keyed_as_the_app_reads_it() -> None:
    stack = Stack(App(), "Bare")
    QuotaTable(stack, "QuotaTable")
    Template.from_stack(stack).has_resource(
        "AWS::DynamoDB::Table",
        {
            "Properties": {
                "KeySchema": [{"AttributeName": PARTITION_KEY, "KeyType": "HASH"}],
                "AttributeDefinitions": [{"AttributeName": PARTITION_KEY, "AttributeType": "S"}],
                "BillingMode": "PAY_PER_REQUEST",
                "TimeToLiveSpecification": {"AttributeName": EXPIRES_ATTRIBUTE, "Enabled": True},
                "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
                "SSESpecification": {"SSEEnabled": True},
            },
            "DeletionPolicy": "Retain",
        },
    )
    assert EXPIRES_ATTRIBUTE == quota_counters.EXPIRES_ATTRIBUTE


def test_servers_charge_and_look_up_in_the_table_only(synthesized: Synthesized) -> None:
    table, _ = synthesized.only("AWS::DynamoDB::Table")
    server = grants(synthesized, synthesized.role_id("server"))
    dynamodb = {action: arns for action, arns in server.items() if action.startswith("dynamodb:")}

    assert dynamodb == {
        "dynamodb:GetItem": {f"<{table}.Arn>"},
        "dynamodb:UpdateItem": {f"<{table}.Arn>"},
    }
    worker = grants(synthesized, synthesized.role_id("worker"))
    assert not [action for action in worker if action.startswith("dynamodb:")]


def test_servers_are_told_the_table_and_keep_metrics_on_loopback(
    synthesized: Synthesized,
) -> None:
    table, _ = synthesized.only("AWS::DynamoDB::Table")
    settings = synthesized.settings("server")

    assert settings["SHARER_QUOTA_STORE_URL"] == f"dynamodb://<{table}>"
    assert settings["SHARER_METRICS_BIND"] == f"127.0.0.1:{METRICS_PORT}"


@pytest.mark.parametrize("path", ["/metrics", "/metrics/", "/metrics?x=1"])
def test_cloudfront_answers_metrics_itself_with_a_404(synthesized: Synthesized, path: str) -> None:
    _, distribution = synthesized.only("AWS::CloudFront::Distribution")
    behaviours = distribution["DistributionConfig"]["CacheBehaviors"]
    # CloudFront matches the path without its query string, in the listed order.
    first = next(b for b in behaviours if fnmatchcase(path.split("?")[0], b["PathPattern"]))
    assert first["PathPattern"] == METRICS_PATH
    (association,) = first["FunctionAssociations"]
    assert association["EventType"] == "viewer-request"
    function_id = association["FunctionARN"]["Fn::GetAtt"][0]
    code = synthesized.resource(function_id)["Properties"]["FunctionCode"]
    # The function run by node, as CloudFront's runtime would run it on this request.
    answered = subprocess.run(
        [
            "node",
            "-e",
            f"{code}\nconsole.log(JSON.stringify(handler({{request: {{uri: '{path}'}}}})))",
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert json.loads(answered.stdout)["statusCode"] == 404


def test_the_quota_store_url_is_an_output(synthesized: Synthesized) -> None:
    synthesized.template.has_output(
        "QuotaStoreUrl", {"Value": {"Fn::Join": ["", ["dynamodb://", {"Ref": Match.any_value()}]]}}
    )


def test_the_workers_write_their_metrics_where_their_unit_lets_them() -> None:
    # sharer@.service runs with ProtectSystem=strict: its RuntimeDirectory is the one
    # place a worker may write.
    unit = (REPO_ROOT / "image-builder" / "systemd" / "sharer@.service").read_text()
    (runtime,) = re.findall(r"^RuntimeDirectory=(\S+)$", unit, re.MULTILINE)
    assert "ProtectSystem=strict" in unit.splitlines()
    (metrics_dir,) = re.findall(r"^Environment=SHARER_WORKER_METRICS_DIR=(\S+)$", unit, re.M)
    assert metrics_dir.startswith(f"/run/{runtime}/")
    # Not the server's own Prometheus directory (server.transport.runtime_paths).
    assert metrics_dir != f"/run/{runtime}/prometheus"
