"""Where the stack may deploy, and the zones its subnets take there.

Two AWS limits decide it, both checked in the template (a ``Rules`` section, so a deploy
to another Region stops before it creates anything, with a message saying why):

- CloudFront VPC origins, the only way in to the internal balancer, exist in a list of
  Regions (CloudFront Developer Guide, "Supported AWS Regions for VPC origins");
- CloudFront standard logging (legacy), which the access logs use, does not deliver to a
  bucket in an opt-in Region (Developer Guide, "Configure standard logging (legacy)"), and
  standard logging v2 is set up only through us-east-1's CloudWatch Logs API ("Configure
  standard logging (v2)"), which a stack in another Region cannot call. So the stack takes
  the VPC-origin Regions that are enabled by default and refuses the opt-in ones.

In four of those Regions VPC origins exclude one zone, named by zone id. Zone names map to
zone ids differently in each account ("AWS Availability Zones"), so ``Fn::GetAZs`` may hand
the balancer the excluded zone. There the subnets are placed by zone id instead
(``AWS::EC2::Subnet`` ``AvailabilityZoneId``), from ``ZONE_IDS``, which holds no
excluded id; ids are the same in every account, so the template needs no lookup.
"""

from aws_cdk import Aws, CfnCondition, CfnMapping, CfnRule, CfnRuleAssertion, Fn, Stack, Token
from constructs import Construct

from cdk.config import ConfigError

# "Supported AWS Regions for VPC origins" (CloudFront Developer Guide).
VPC_ORIGIN_REGIONS = (
    "us-east-2", "us-east-1", "us-west-1", "us-west-2", "af-south-1", "ap-east-1",
    "ap-south-1", "ap-south-2", "ap-southeast-3", "ap-southeast-4", "ap-northeast-3",
    "ap-southeast-1", "ap-southeast-2", "ap-northeast-1", "ap-northeast-2", "ap-southeast-7",
    "ap-southeast-5", "ap-east-2", "ca-central-1", "ca-west-1", "eu-central-1", "eu-west-1",
    "eu-west-2", "eu-south-1", "eu-west-3", "eu-south-2", "eu-north-1", "eu-central-2",
    "il-central-1", "me-south-1", "me-central-1", "sa-east-1", "mx-central-1",
)  # fmt: skip
# Regions enabled by default in every account ("AWS Regions"); every later one is opt-in.
DEFAULT_REGIONS = (
    "us-east-1", "us-east-2", "us-west-1", "us-west-2", "ap-south-1", "ap-northeast-1",
    "ap-northeast-2", "ap-northeast-3", "ap-southeast-1", "ap-southeast-2", "ca-central-1",
    "eu-central-1", "eu-west-1", "eu-west-2", "eu-west-3", "eu-north-1", "sa-east-1",
)  # fmt: skip
ACCEPTED_REGIONS = tuple(r for r in VPC_ORIGIN_REGIONS if r in DEFAULT_REGIONS)
# The zone each of these Regions excludes from VPC origins (same page).
EXCLUDED_ZONE_IDS = {
    "us-east-1": "use1-az3",
    "us-west-1": "usw1-az2",
    "ap-northeast-1": "apne1-az3",
    "ca-central-1": "cac1-az3",
}
# The two zones, by id, the subnets take in those Regions (zone index -> id).
ZONE_IDS = {
    "us-east-1": ("use1-az1", "use1-az2"),
    "us-west-1": ("usw1-az1", "usw1-az3"),
    "ap-northeast-1": ("apne1-az1", "apne1-az4"),
    "ca-central-1": ("cac1-az1", "cac1-az2"),
}
VPC_ORIGIN_REFUSAL = (
    "This Region has no CloudFront VPC origins, the only way to the internal load balancer "
    "(CloudFront Developer Guide: Supported AWS Regions for VPC origins). Deploy to one of: "
    + ", ".join(ACCEPTED_REGIONS)
)
LOGGING_REFUSAL = (
    "This is an opt-in Region: CloudFront standard logging (legacy) cannot deliver access "
    "logs to a bucket here, and standard logging v2 is configured only from us-east-1. "
    "Deploy to one of: " + ", ".join(ACCEPTED_REGIONS)
)


def check_region(region: str) -> None:
    """Refuse at synthesis a concrete Region the template's rule would refuse at deploy."""
    if Token.is_unresolved(region):
        return
    if region not in VPC_ORIGIN_REGIONS:
        raise ConfigError(f"region {region}: {VPC_ORIGIN_REFUSAL}")
    if region not in DEFAULT_REGIONS:
        raise ConfigError(f"region {region}: {LOGGING_REFUSAL}")


class DeployRegions(Construct):
    """The template rule refusing other Regions, and the zone pinning ``Network`` applies.

    ``pins_zones`` is true in the Regions of ``ZONE_IDS``; ``zone_id(index)`` is the zone
    id of the subnets at ``index`` there.
    """

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        check_region(Stack.of(self).region)
        CfnRule(
            self,
            "SupportedRegion",
            assertions=[
                CfnRuleAssertion(
                    assert_=Fn.condition_contains(list(VPC_ORIGIN_REGIONS), Aws.REGION),
                    assert_description=VPC_ORIGIN_REFUSAL,
                ),
                CfnRuleAssertion(
                    assert_=Fn.condition_contains(list(DEFAULT_REGIONS), Aws.REGION),
                    assert_description=LOGGING_REFUSAL,
                ),
            ],
        )
        self._zone_ids = CfnMapping(
            self,
            "ZoneIds",
            mapping={
                region: {f"Zone{index}": zone for index, zone in enumerate(zones)}
                for region, zones in ZONE_IDS.items()
            },
        )
        self.pins_zones = CfnCondition(
            self,
            "PinsZones",
            expression=Fn.condition_or(
                *(Fn.condition_equals(Aws.REGION, region) for region in ZONE_IDS)
            ),
        )

    def zone_id(self, index: int) -> str:
        """The zone id of the subnets at ``index`` (valid where ``pins_zones`` holds)."""
        return self._zone_ids.find_in_map(Aws.REGION, f"Zone{index}")
