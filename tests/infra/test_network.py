"""The VPC: public and isolated subnets in two zones, no NAT, S3 by gateway, rejects logged."""

from aws_cdk.assertions import Capture
from cdk_synthesis import Synthesized, render


def test_two_zones_of_public_and_isolated_subnets_and_no_nat_gateway(
    synthesized: Synthesized,
) -> None:
    # The idle bill (docs/deploy.md) counts on no NAT gateway and no interface endpoint.
    synthesized.template.resource_count_is("AWS::EC2::NatGateway", 0)
    synthesized.template.resource_count_is("AWS::EC2::VPCEndpoint", 1)
    subnets = synthesized.resources("AWS::EC2::Subnet").values()
    public = [s for s in subnets if s["Properties"]["MapPublicIpOnLaunch"]]
    assert len(public) == 2
    assert len(subnets) == 4
    for group in (public, [s for s in subnets if s not in public]):
        zones = {str(s["Properties"]["AvailabilityZone"]) for s in group}
        assert len(zones) == 2


def test_s3_traffic_takes_the_free_gateway_endpoint_from_every_subnet(
    synthesized: Synthesized,
) -> None:
    _, endpoint = synthesized.only("AWS::EC2::VPCEndpoint")
    assert endpoint["VpcEndpointType"] == "Gateway"
    assert render(endpoint["ServiceName"]).endswith(".s3")
    subnet_tables = {
        association["Properties"]["RouteTableId"]["Ref"]
        for association in synthesized.resources("AWS::EC2::SubnetRouteTableAssociation").values()
    }
    assert {table["Ref"] for table in endpoint["RouteTableIds"]} == subnet_tables


def test_rejected_traffic_is_logged_to_the_log_bucket(synthesized: Synthesized) -> None:
    vpc_id, _ = synthesized.only("AWS::EC2::VPC")
    log_bucket = synthesized.bucket_id("BucketOwnerPreferred")
    destination = Capture()
    synthesized.template.has_resource_properties(
        "AWS::EC2::FlowLog",
        {
            "ResourceId": {"Ref": vpc_id},
            "TrafficType": "REJECT",
            "LogDestinationType": "s3",
            "LogDestination": destination,
        },
    )
    # The log bucket, where the flow logs expire with the other logs.
    assert render(destination.as_object()) == f"<{log_bucket}.Arn>/vpc-flow-logs/"
