"""The optional WAF rate limit on uploads: off by default, per client IP on POST / when on."""

import json
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App
from aws_cdk.assertions import Template
from cdk_synthesis import Synthesized

from cdk.stack import FEATURE_FLAGS, build
from cdk.upload_rate_limit import WAF_REGION, WINDOW_SECONDS

LIMIT = 100


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The app synthesized with wafRateLimit (cdk-nag runs on it too)."""
    outdir: Path = tmp_path_factory.mktemp("cdk.out.waf")
    app = App(outdir=str(outdir), context={**FEATURE_FLAGS, "wafRateLimit": str(LIMIT)})
    stack = build(app)
    app.synth()
    template: dict[str, Any] = dict(Template.from_stack(stack).to_json())
    return template


def test_off_by_default(synthesized: Synthesized) -> None:
    synthesized.template.resource_count_is("AWS::WAFv2::WebACL", 0)
    _, distribution = synthesized.only("AWS::CloudFront::Distribution")
    assert "WebACLId" not in distribution["DistributionConfig"]


def test_on_it_limits_uploads_per_client_with_a_json_429(limited: dict[str, Any]) -> None:
    resources = limited["Resources"]
    ((acl_id, acl),) = [(k, r) for k, r in resources.items() if r["Type"] == "AWS::WAFv2::WebACL"]
    properties = acl["Properties"]
    assert properties["Scope"] == "CLOUDFRONT"
    assert properties["DefaultAction"] == {"Allow": {}}
    (rule,) = properties["Rules"]
    rate = rule["Statement"]["RateBasedStatement"]
    assert (rate["AggregateKeyType"], rate["Limit"]) == ("IP", LIMIT)
    assert rate["EvaluationWindowSec"] == WINDOW_SECONDS
    matches = {
        next(iter(s["ByteMatchStatement"]["FieldToMatch"])): s["ByteMatchStatement"]["SearchString"]
        for s in rate["ScopeDownStatement"]["AndStatement"]["Statements"]
    }
    assert matches == {"Method": "POST", "UriPath": "/"}
    response = rule["Action"]["Block"]["CustomResponse"]
    assert response["ResponseCode"] == 429
    assert response["ResponseHeaders"] == [{"Name": "Retry-After", "Value": str(WINDOW_SECONDS)}]
    body = properties["CustomResponseBodies"][response["CustomResponseBodyKey"]]
    assert body["ContentType"] == "APPLICATION_JSON"
    assert "error" in json.loads(body["Content"])
    ((_, distribution),) = [
        (k, r) for k, r in resources.items() if r["Type"] == "AWS::CloudFront::Distribution"
    ]
    assert distribution["Properties"]["DistributionConfig"]["WebACLId"] == {
        "Fn::GetAtt": [acl_id, "Arn"]
    }


def test_on_it_deploys_only_in_us_east_1(limited: dict[str, Any]) -> None:
    in_region = {"Fn::Equals": [{"Ref": "AWS::Region"}, WAF_REGION]}
    asserted = [a["Assert"] for rule in limited["Rules"].values() for a in rule["Assertions"]]
    assert in_region in asserted
