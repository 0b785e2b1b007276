"""What every sharer instance has, worker or server: role, disk, and a way out."""

from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from constructs import Construct

from cdk.logs import LogShipping
from cdk.settings import grant_read_parameters

# The AMI's root device and size (cdk/worker_image.py's recipe); an instance's root volume
# must be at least the size of the AMI's snapshot, so both read these.
ROOT_DEVICE = "/dev/xvda"
ROOT_VOLUME_GIB = 8


def instance_role(
    scope: Construct,
    construct_id: str,
    *,
    role_name: str,
    settings_parameter_name: str,
    log_shipping: LogShipping,
) -> iam.Role:
    """An EC2 role that may read its settings and write its log group; nothing else yet."""
    role = iam.Role(
        scope,
        construct_id,
        assumed_by=iam.ServicePrincipal("ec2.amazonaws.com"),
        description=f"Sharer {role_name} instances.",
    )
    grant_read_parameters(scope, role, [settings_parameter_name])
    log_shipping.grant_shipping(role_name, role)
    return role


def root_volume() -> ec2.BlockDevice:
    """An encrypted gp3 root volume the size of the AMI's."""
    return ec2.BlockDevice(
        device_name=ROOT_DEVICE,
        volume=ec2.BlockDeviceVolume.ebs(
            ROOT_VOLUME_GIB, encrypted=True, volume_type=ec2.EbsDeviceVolumeType.GP3
        ),
    )


def https_only_security_group(
    scope: Construct, construct_id: str, *, vpc: ec2.IVpc, description: str
) -> ec2.SecurityGroup:
    """A security group whose only way out is HTTPS, all the AWS APIs the app calls need."""
    group = ec2.SecurityGroup(
        scope, construct_id, vpc=vpc, description=description, allow_all_outbound=False
    )
    group.add_egress_rule(ec2.Peer.any_ipv4(), ec2.Port.tcp(443), "HTTPS to AWS APIs")
    return group
