"""Every change that touches the VPC origin is one CloudFormation can carry out.

CloudFront answers 409 to an update of a VPC origin a distribution uses (CloudFront
Developer Guide, "Update a VPC origin"; aws/aws-cdk issues 34629 and 35765). So the
templates before and after a change may never hold the same VPC origin logical id with
different properties: a change must make a new origin (a new logical id) that the
distribution switches to, after which CloudFormation deletes the old one.
"""

from functools import cache
from typing import Any

import pytest
from aws_cdk import App, Duration, Stack, Tags
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Template

from cdk.cdn import Cdn

VPC_ORIGIN = "AWS::CloudFront::VpcOrigin"


def _synthesize(
    *,
    port: int = 80,
    balancer_id: str = "Balancer",
    balancer_name: str | None = None,
    tag: str | None = None,
) -> dict[str, Any]:
    app = App()
    stack = Stack(app, "Edge")
    vpc = ec2.Vpc(
        stack,
        "Vpc",
        max_azs=2,
        nat_gateways=0,
        subnet_configuration=[
            ec2.SubnetConfiguration(name="public", subnet_type=ec2.SubnetType.PUBLIC),
            ec2.SubnetConfiguration(name="private", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED),
        ],
    )
    balancer = elbv2.ApplicationLoadBalancer(
        stack, balancer_id, vpc=vpc, internet_facing=False, load_balancer_name=balancer_name
    )
    Cdn(
        stack,
        "Cdn",
        bucket=s3.Bucket(stack, "Media"),
        log_bucket=s3.Bucket(
            stack, "Logs", object_ownership=s3.ObjectOwnership.BUCKET_OWNER_PREFERRED
        ),
        load_balancer=balancer,
        load_balancer_port=port,
        read_timeout=Duration.seconds(30),
        keepalive_timeout=Duration.seconds(5),
    )
    if tag is not None:
        # A stack-wide tag, the way issue 35765 met the 409.
        Tags.of(app).add("cost-centre", tag)
    template = dict(Template.from_stack(stack).to_json())
    return template


# Cached: several changes share one "before", and synthesis is the slow part of a test.
_template = cache(_synthesize)


def _vpc_origins(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        logical_id: resource.get("Properties", {})
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == VPC_ORIGIN
    }


def _origin_the_distribution_uses(template: dict[str, Any]) -> str:
    (distribution,) = (
        r for r in template["Resources"].values() if r["Type"] == "AWS::CloudFront::Distribution"
    )
    (used,) = (
        origin["VpcOriginConfig"]["VpcOriginId"]["Fn::GetAtt"][0]
        for origin in distribution["Properties"]["DistributionConfig"]["Origins"]
        if "VpcOriginConfig" in origin
    )
    return str(used)


def _in_place_updates(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    old, new = _vpc_origins(before), _vpc_origins(after)
    return [
        logical_id for logical_id in old.keys() & new.keys() if old[logical_id] != new[logical_id]
    ]


# Before and after. Each must make a new VPC origin: a replaced balancer keeps its logical
# id, so only the origin's new logical id shows that it gets a new ARN; a stack-wide tag
# also tags the stack, and CloudFormation propagates stack tags to the origin.
CHANGES: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "listener port": ({}, {"port": 8080}),
    "balancer replaced under a new logical id": ({}, {"balancer_id": "BalancerV2"}),
    "balancer renamed (replaced in place)": (
        {"balancer_name": "uploads-a"},
        {"balancer_name": "uploads-b"},
    ),
    "stack-wide tag added": ({}, {"tag": "a"}),
    "stack-wide tag changed": ({"tag": "a"}, {"tag": "b"}),
}


@pytest.mark.parametrize("change", CHANGES)
def test_lifecycle_vpc_origin_replace_no_change_updates_a_vpc_origin_in_place(
    change: str,
) -> None:
    before_options, after_options = CHANGES[change]
    before, after = _template(**before_options), _template(**after_options)
    assert _in_place_updates(before, after) == [], change
    # The distribution always names the one VPC origin of its own template.
    assert list(_vpc_origins(after)) == [_origin_the_distribution_uses(after)]
    old, new = _vpc_origins(before), _vpc_origins(after)
    for properties in [*old.values(), *new.values()]:
        # Tags in the template would be updated in place.
        assert "Tags" not in properties
    # A new origin under a new name: the old one is deleted only after the switch.
    assert old.keys().isdisjoint(new.keys())
    (old_props,), (new_props,) = old.values(), new.values()
    old_name = old_props["VpcOriginEndpointConfig"]["Name"]
    assert old_name != new_props["VpcOriginEndpointConfig"]["Name"]


def test_lifecycle_vpc_origin_replace_an_unchanged_app_replaces_nothing() -> None:
    # Two separate syntheses (the second not from the cache): the digest is deterministic.
    assert _vpc_origins(_template()) == _vpc_origins(_synthesize())
