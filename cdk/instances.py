"""What every sharer instance has, worker or server: role, disk, launch template, way out."""

from aws_cdk import Duration, Tags
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from constructs import Construct

from cdk.instance_settings import grant_read_parameters

# The AMI's root device and size (cdk/app_image.py's recipe); an instance's root volume
# must be at least the size of the AMI's snapshot, so both read these.
ROOT_DEVICE = "/dev/xvda"
ROOT_VOLUME_GIB = 8
ROOT_VOLUME_TYPE = "gp3"
# Every instance is replaced within a week, so each one boots the newest AMI the weekly
# rebuild published (the launch templates resolve its parameter at launch).
MAX_INSTANCE_LIFETIME = Duration.days(7)
VERSION_TAG = "sharer:app-version"


def instance_role(scope: Construct, construct_id: str, *, role_name: str) -> iam.Role:
    """An EC2 role for ``role_name`` instances; the stack grants it what the role needs."""
    return iam.Role(
        scope,
        construct_id,
        assumed_by=iam.ServicePrincipal("ec2.amazonaws.com"),
        description=f"Sharer {role_name} instances.",
    )


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


def role_launch_template(
    scope: Construct,
    construct_id: str,
    *,
    ami_parameter_name: str,
    image_version: str,
    instance_type: str,
    role: iam.Role,
    settings_parameter_name: str,
    security_group: ec2.ISecurityGroup,
    user_data: ec2.UserData,
) -> ec2.LaunchTemplate:
    """IMDSv2, an encrypted disk, the AMI resolved from its parameter at every launch.

    The role may read its own settings. The AMI id is resolved at launch, so nothing in the
    template would change with a new image; the version tag does, which makes a deploy of
    a new image roll the group.
    """
    grant_read_parameters(scope, role, [settings_parameter_name])
    template = ec2.LaunchTemplate(
        scope,
        construct_id,
        machine_image=ec2.MachineImage.resolve_ssm_parameter_at_launch(ami_parameter_name),
        instance_type=ec2.InstanceType(instance_type),
        role=role,
        security_group=security_group,
        user_data=user_data,
        require_imdsv2=True,
        detailed_monitoring=True,
        block_devices=[root_volume()],
    )
    Tags.of(template).add(VERSION_TAG, image_version)
    return template
