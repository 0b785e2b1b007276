"""The VPC: public subnets for the instances, isolated ones for the balancer, no NAT."""

from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_s3 as s3
from constructs import Construct


class Network(Construct):
    """Two zones, each with a public subnet and an isolated one.

    The internal load balancer (and the interfaces CloudFront's VPC origin places beside
    it) lives in the isolated subnets, which have no route to the internet. Nothing
    listens on the workers; the servers admit only the balancer. Instances reach S3, SQS,
    SSM, CloudWatch and CloudFront's API over the internet gateway, which costs nothing
    while idle, where a NAT gateway or interface endpoints would cost dollars a month
    each (docs/deploy.md). The S3 gateway endpoint (free) keeps image bytes off the
    internet path.
    """

    def __init__(self, scope: Construct, construct_id: str, *, log_bucket: s3.IBucket) -> None:
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
        self.vpc.add_flow_log(
            "FlowLog",
            destination=ec2.FlowLogDestination.to_s3(log_bucket, "vpc-flow-logs/"),
            traffic_type=ec2.FlowLogTrafficType.REJECT,
        )
