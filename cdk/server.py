"""The upload server: one instance from the workers' AMI, reachable only from CloudFront."""

import jsii
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import custom_resources as cr
from constructs import Construct

from cdk.access import grant_server
from cdk.instances import https_only_security_group, instance_role, root_volume
from cdk.logs import LogShipping
from cdk.nag import acknowledge
from cdk.queues import Queues
from cdk.settings import app_settings, boot_user_data, parameter_name, settings_parameter
from cdk.storage import Storage
from cdk.worker_image import WorkerImage

PORT = 8080
CLOUDFRONT_PREFIX_LIST = "com.amazonaws.global.cloudfront.origin-facing"


@jsii.implements(ec2.IMachineImage)
class _BuiltImage:
    """The AMI this deploy built: a new version replaces the instance."""

    def __init__(self, image_id: str) -> None:
        self._image_id = image_id

    def get_image(self, scope: Construct) -> ec2.MachineImageConfig:
        """The image id, as ``ec2.Instance`` asks for it."""
        return ec2.MachineImageConfig(
            image_id=self._image_id,
            os_type=ec2.OperatingSystemType.LINUX,
            user_data=ec2.UserData.for_linux(),
        )


class Server(Construct):
    """``instance`` runs sharer@server.service (gunicorn) on ``PORT``.

    Its settings are published later with ``publish_settings``, once the CloudFront domain
    they contain exists; the instance only knows the parameter's name.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        vpc: ec2.IVpc,
        image: WorkerImage,
        instance_type: str,
        storage: Storage,
        queues: Queues,
        log_shipping: LogShipping,
    ) -> None:
        super().__init__(scope, construct_id)
        self._storage = storage
        self._queues = queues
        self.settings_parameter_name = parameter_name(self, "server")
        role = instance_role(
            self,
            "Role",
            role_name="server",
            settings_parameter_name=self.settings_parameter_name,
            log_shipping=log_shipping,
        )
        grant_server(role, storage.bucket, queues.queue, queues.dead_letter_queue)
        security_group = https_only_security_group(
            self, "SecurityGroup", vpc=vpc, description="Sharer server: CloudFront in, HTTPS out."
        )
        security_group.add_ingress_rule(
            ec2.Peer.prefix_list(self._cloudfront_prefix_list_id()),
            ec2.Port.tcp(PORT),
            "CloudFront origin-facing servers only",
        )
        self.instance = ec2.Instance(
            self,
            "Instance",
            vpc=vpc,
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PUBLIC),
            instance_type=ec2.InstanceType(instance_type),
            machine_image=_BuiltImage(image.image_id),
            role=role,
            security_group=security_group,
            user_data=boot_user_data(
                "server",
                settings_parameter_name=self.settings_parameter_name,
                agent_parameter_name=log_shipping.agent_parameter_name,
            ),
            require_imdsv2=True,
            detailed_monitoring=True,
            block_devices=[root_volume()],
        )
        # Read once at first boot. (Its settings come later, see publish_settings: the unit
        # keeps retrying until they exist.)
        self.instance.node.add_dependency(log_shipping.agent_config)
        acknowledge(
            self.instance,
            "AwsSolutions-EC29",
            "The server is replaced by every deploy of a new version and removed by "
            "cdk destroy; termination protection would block both. It holds no state.",
        )

    def publish_settings(self, public_base_url: str) -> None:
        """Create the server's settings parameter, naming the CloudFront URL it hands out
        (for images and for share pages alike)."""
        settings_parameter(
            self,
            "Settings",
            name=self.settings_parameter_name,
            settings={
                **app_settings(self._storage, self._queues),
                "SHARER_PUBLIC_BASE_URL": public_base_url,
                # People reach the pages through CloudFront too: share links name it.
                "SHARER_SITE_URL": public_base_url,
                "SHARER_BIND": f"0.0.0.0:{PORT}",
            },
        )

    def _cloudfront_prefix_list_id(self) -> str:
        # The managed prefix list's id differs per region and has no CloudFormation
        # lookup, so a custom resource asks EC2 for it at deploy time.
        lookup = cr.AwsCustomResource(
            self,
            "CloudFrontPrefixList",
            on_update=cr.AwsSdkCall(
                service="EC2",
                action="describeManagedPrefixLists",
                parameters={
                    "Filters": [{"Name": "prefix-list-name", "Values": [CLOUDFRONT_PREFIX_LIST]}]
                },
                physical_resource_id=cr.PhysicalResourceId.of(CLOUDFRONT_PREFIX_LIST),
                output_paths=["PrefixLists.0.PrefixListId"],
            ),
            policy=cr.AwsCustomResourcePolicy.from_sdk_calls(
                resources=cr.AwsCustomResourcePolicy.ANY_RESOURCE
            ),
            install_latest_aws_sdk=False,
        )
        acknowledge(
            lookup,
            "AwsSolutions-IAM5[Resource::*]",
            "ec2:DescribeManagedPrefixLists supports no resource-level permissions; it is the "
            "only action granted, and it only reads public prefix-list metadata.",
        )
        # The singleton function's role, created by CDK at the stack's root.
        function_role = lookup.grant_principal
        assert isinstance(function_role, iam.Role)
        acknowledge(
            function_role,
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
            "AWSLambdaBasicExecutionRole]",
            "The lookup function's role only writes its own logs; this managed policy is "
            "exactly that (CreateLogGroup, CreateLogStream, PutLogEvents).",
        )
        return lookup.get_response_field("PrefixLists.0.PrefixListId")
