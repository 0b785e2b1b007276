"""What every sharer instance has, worker or server: role, disk, launch template, way out."""

import jsii
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
# Every instance is replaced within a week: no instance outlives its AMI's patches long.
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


@jsii.implements(ec2.IMachineImage)
class BuiltImage:
    """The AMI of the stack's own image build, by id: ``ami_id`` is its ``ImageId``."""

    def __init__(self, ami_id: str) -> None:
        self._ami_id = ami_id

    def get_image(self, _scope: Construct) -> ec2.MachineImageConfig:
        """The AMI id, Linux, and empty Linux user data (the caller brings its own)."""
        return ec2.MachineImageConfig(
            image_id=self._ami_id,
            os_type=ec2.OperatingSystemType.LINUX,
            user_data=ec2.UserData.for_linux(),
        )


def role_launch_template(
    scope: Construct,
    construct_id: str,
    *,
    ami_id: str,
    image_version: str,
    instance_type: str,
    role: iam.Role,
    settings_parameter_name: str,
    security_group: ec2.ISecurityGroup,
    user_data: ec2.UserData,
) -> ec2.LaunchTemplate:
    """IMDSv2, an encrypted disk, and the AMI ``ami_id`` named in the template itself.

    The role may read its own settings. The AMI is the deploy-time image's ``ImageId``
    rather than a parameter resolved at launch: a new image is a new template version,
    and CloudFormation's rollback of a failed update restores the version that names the
    old AMI, which the rollback never deletes (docs/deploy.md, "Lifecycle matrix"). The
    version tag marks each instance with the app version it runs.
    """
    grant_read_parameters(scope, role, [settings_parameter_name])
    template = ec2.LaunchTemplate(
        scope,
        construct_id,
        machine_image=BuiltImage(ami_id),
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
