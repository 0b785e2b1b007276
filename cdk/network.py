"""The VPC: public subnets for the instances, isolated ones for the balancer, no NAT."""

from aws_cdk import Aws, Fn
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_s3 as s3
from constructs import Construct

from cdk.deploy_regions import DeployRegions
from cdk.nag import acknowledge


class Network(Construct):
    """Two zones, each with a public subnet and an isolated one.

    The internal load balancer (and the interfaces CloudFront's VPC origin places beside
    it) lives in the isolated subnets, which have no route to the internet. Nothing
    listens on the workers; the servers admit only the balancer. Instances reach S3, SQS,
    SSM, CloudWatch and CloudFront's API over the internet gateway, which costs nothing
    while idle, where a NAT gateway or interface endpoints would cost dollars a month
    each (docs/deploy.md). The S3 gateway endpoint (free) keeps image bytes off the
    internet path.

    Where VPC origins exclude a zone, every subnet is placed by zone id
    (``regions.zone_id``), the public ones in the same zones as the balancer's: a
    balancer sends nothing to targets in a zone it is not enabled in.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        log_bucket: s3.IBucket,
        regions: DeployRegions,
    ) -> None:
        super().__init__(scope, construct_id)
        self.vpc = ec2.Vpc(
            self,
            "Vpc",
            max_azs=2,
            nat_gateways=0,
            subnet_configuration=[
                ec2.SubnetConfiguration(name="public", subnet_type=ec2.SubnetType.PUBLIC),
                ec2.SubnetConfiguration(
                    name="balancer", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED
                ),
            ],
            gateway_endpoints={
                "S3": ec2.GatewayVpcEndpointOptions(service=ec2.GatewayVpcEndpointAwsService.S3)
            },
            restrict_default_security_group=False,
        )
        zones = self.vpc.availability_zones
        for subnet in [*self.vpc.public_subnets, *self.vpc.isolated_subnets]:
            index = zones.index(subnet.availability_zone)
            resource = subnet.node.default_child
            assert isinstance(resource, ec2.CfnSubnet)
            pinned = regions.pins_zones.logical_id
            resource.add_property_override(
                "AvailabilityZone",
                Fn.condition_if(pinned, Aws.NO_VALUE, Fn.select(index, Fn.get_azs())),
            )
            resource.add_property_override(
                "AvailabilityZoneId",
                Fn.condition_if(pinned, regions.zone_id(index), Aws.NO_VALUE),
            )
            acknowledge(
                resource,
                "CloudFormation-Validate::F3020",
                "AvailabilityZone and AvailabilityZoneId sit under the same Fn::If, so in any "
                "Region exactly one is set and the other is AWS::NoValue; the validator does "
                "not evaluate conditions (cfn-lint, which does, passes).",
            )
        self.vpc.add_flow_log(
            "FlowLog",
            destination=ec2.FlowLogDestination.to_s3(log_bucket, "vpc-flow-logs/"),
            traffic_type=ec2.FlowLogTrafficType.REJECT,
        )
