"""Region limits: the template refuses Regions where the stack cannot work, saying why,
and never puts the balancer (or its targets) in a zone VPC origins exclude.

Evaluated over the synthesized template for each Region, the way CloudFormation would:
the Rules before anything is created, the Conditions and Mappings for the subnets' zones.
"""

from typing import Any

import pytest
from cdk_synthesis import Synthesized

from cdk.deploy_regions import ACCEPTED_REGIONS, EXCLUDED_ZONE_IDS

# Opt-in Regions with VPC origins where standard logging (legacy) delivers nothing
# ("Configure standard logging (legacy)"), and Regions without VPC origins.
OPT_IN_WITH_VPC_ORIGINS = ("af-south-1", "ap-east-1", "eu-south-1", "me-south-1", "ap-south-2")
WITHOUT_VPC_ORIGINS = ("ap-southeast-6", "us-gov-west-1", "cn-north-1")
NO_VALUE = {"Ref": "AWS::NoValue"}


def _evaluate(value: Any, region: str, template: dict[str, Any]) -> Any:
    """A rule or condition expression, or a property, as CloudFormation sees it in ``region``."""
    if not isinstance(value, dict) or len(value) != 1:
        return value
    ((function, argument),) = value.items()
    if function == "Ref" and argument == "AWS::Region":
        return region
    if function == "Condition":
        return _evaluate(template["Conditions"][argument], region, template)
    if function == "Fn::Equals":
        left, right = (_evaluate(a, region, template) for a in argument)
        return left == right
    if function == "Fn::Or":
        return any(_evaluate(a, region, template) for a in argument)
    if function == "Fn::Not":
        return not _evaluate(argument[0], region, template)
    if function == "Fn::Contains":
        items, item = argument
        return _evaluate(item, region, template) in items
    if function == "Fn::If":
        condition, when_true, when_false = argument
        chosen = (
            when_true
            if _evaluate(template["Conditions"][condition], region, template)
            else when_false
        )
        return _evaluate(chosen, region, template)
    if function == "Fn::FindInMap":
        name, top, second = (_evaluate(a, region, template) for a in argument)
        return template["Mappings"][name][top][second]
    return value


def _refusals(synthesized: Synthesized, region: str) -> list[str]:
    """The descriptions of the rule assertions that fail in ``region``."""
    template = synthesized.document
    return [
        assertion["AssertDescription"]
        for name, rule in template["Rules"].items()
        if name != "CheckBootstrapVersion"
        for assertion in rule["Assertions"]
        if not _evaluate(assertion["Assert"], region, template)
    ]


@pytest.mark.parametrize("region", ["us-east-1", "eu-west-1", "ap-northeast-1", "sa-east-1"])
def test_lifecycle_region_limits_a_region_with_vpc_origins_and_legacy_logs_is_accepted(
    synthesized: Synthesized, region: str
) -> None:
    assert _refusals(synthesized, region) == []


@pytest.mark.parametrize("region", OPT_IN_WITH_VPC_ORIGINS)
def test_lifecycle_region_limits_an_opt_in_region_is_refused_for_its_access_logs(
    synthesized: Synthesized, region: str
) -> None:
    (refusal,) = _refusals(synthesized, region)
    assert "standard logging" in refusal
    assert "opt-in" in refusal


@pytest.mark.parametrize("region", WITHOUT_VPC_ORIGINS)
def test_lifecycle_region_limits_a_region_without_vpc_origins_is_refused(
    synthesized: Synthesized, region: str
) -> None:
    refusals = _refusals(synthesized, region)
    assert any("VPC origins" in refusal for refusal in refusals), refusals


def test_lifecycle_region_limits_every_accepted_region_passes_the_rule(
    synthesized: Synthesized,
) -> None:
    assert ACCEPTED_REGIONS
    assert [r for r in ACCEPTED_REGIONS if _refusals(synthesized, r)] == []
    assert not set(ACCEPTED_REGIONS) & set(OPT_IN_WITH_VPC_ORIGINS + WITHOUT_VPC_ORIGINS)


def _subnet_zones(synthesized: Synthesized, region: str) -> dict[bool, list[Any]]:
    """Each subnet's zone in ``region``, public (True) and isolated (False), by CIDR order."""
    template = synthesized.document
    zones: dict[bool, list[Any]] = {True: [], False: []}
    subnets = sorted(
        synthesized.resources("AWS::EC2::Subnet").values(),
        key=lambda s: s["Properties"]["CidrBlock"],
    )
    for subnet in subnets:
        properties = subnet["Properties"]
        by_id = _evaluate(properties.get("AvailabilityZoneId", NO_VALUE), region, template)
        by_name = _evaluate(properties.get("AvailabilityZone", NO_VALUE), region, template)
        # Exactly one of the two is set, as AWS::EC2::Subnet requires.
        assert (by_id == NO_VALUE) != (by_name == NO_VALUE), properties
        zones[properties["MapPublicIpOnLaunch"]].append(by_name if by_id == NO_VALUE else by_id)
    return zones


@pytest.mark.parametrize("region", EXCLUDED_ZONE_IDS)
def test_lifecycle_region_limits_the_balancer_never_sits_in_an_excluded_zone(
    synthesized: Synthesized, region: str
) -> None:
    zones = _subnet_zones(synthesized, region)
    balancer_zones, server_zones = zones[False], zones[True]
    # Placed by zone id (names differ per account), two distinct ids of this Region.
    assert all(isinstance(z, str) for z in balancer_zones), balancer_zones
    assert len(set(balancer_zones)) == 2
    prefix = EXCLUDED_ZONE_IDS[region].split("-")[0]
    assert all(z.startswith(f"{prefix}-az") for z in balancer_zones)
    assert EXCLUDED_ZONE_IDS[region] not in balancer_zones + server_zones
    # The servers share the balancer's zones: it routes only to zones it is enabled in.
    assert sorted(server_zones) == sorted(balancer_zones)


def test_lifecycle_region_limits_other_regions_take_their_first_two_zones(
    synthesized: Synthesized,
) -> None:
    zones = _subnet_zones(synthesized, "eu-west-1")
    for group in zones.values():
        assert [z["Fn::Select"][0] for z in group] == [0, 1]
