"""The upload tier: servers in an Auto Scaling group behind an internal load balancer.

CloudFront reaches the balancer through a VPC origin (cdk/cdn.py): the balancer is
internal, in subnets with no route to the internet, and admits only CloudFront's
origin-facing addresses; the servers admit only the balancer. At least two servers run in
two zones, each replaced when the balancer's check of its liveness (``HEALTH_PATH``) fails,
and target tracking on CPU adds servers under load.

Liveness and dependency health are apart (AWS Builders' Library, "Implementing health
checks"): the balancer routes, and Auto Scaling replaces servers, on ``HEALTH_PATH``,
which calls nothing, so an S3 or SQS outage never takes every server out at once. The
dependency check (``DEPENDENCY_HEALTH_PATH``, three AWS calls each) is for operators on
the instance; the balancer answers it 404 itself, so the public cannot call it through
CloudFront (its health checks go to the targets directly, not through listener rules).

A new version rolls out with no failed upload: a rolling update starts one new server at
a time and stops an old one only after the new one signals (cfn-signal, sent by user
data) that the balancer calls it healthy, i.e. routes to it (src/server/routable_wait.py),
keeping ``min_capacity`` in service throughout. A server
that stops is first deregistered: the balancer sends it nothing new and waits
``DEREGISTRATION_DELAY_SECONDS`` (longer than the request deadline) for what it holds, and
only then does Auto Scaling shut it down, when gunicorn's graceful stop has nothing left.

The timeouts along the path are ordered so that each hop gives up after the one behind
it and the side that opens a connection always closes it first (``server_settings``):
request deadline < CloudFront's read timeout <= the balancer's idle timeout < the
server's keep-alive, and CloudFront's origin keep-alive < the balancer's idle timeout.
"""

from collections.abc import Mapping

from aws_cdk import Aws, Duration
from aws_cdk import aws_autoscaling as autoscaling
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_ssm as ssm
from aws_cdk import custom_resources as cr
from constructs import Construct

from cdk.instance_settings import boot_user_data, parameter_name, settings_parameter
from cdk.instances import (
    MAX_INSTANCE_LIFETIME,
    https_only_security_group,
    instance_role,
    role_launch_template,
)
from cdk.nag import acknowledge, skip_checkov

PORT = 8080
LISTENER_PORT = 80
# What the balancer checks and a booting server waits for: liveness, never dependencies.
HEALTH_PATH = "/livez"
# The deep check (S3 and SQS); the balancer answers it 404 rather than forward it.
DEPENDENCY_HEALTH_PATH = "/healthz"
CLOUDFRONT_PREFIX_LIST = "com.amazonaws.global.cloudfront.origin-facing"
# Installed into the AMI by image-builder/components/sharer-app.yml.
WAIT_HEALTHY_COMMAND = "/opt/sharer/bin/sharer-wait-healthy"
WAIT_ROUTABLE_COMMAND = "/opt/sharer/venv/bin/python -m server.routable_wait"
# A booting server has this long to answer its liveness check locally, then this long for
# the balancer to call it healthy, before its launch counts as failed.
HEALTHY_WAIT_SECONDS = 600
ROUTABLE_WAIT_SECONDS = 240
HEALTH_CHECK_INTERVAL_SECONDS = 10
HEALTHY_THRESHOLD = 2
# Failed checks before a target leaves the rotation (the sharer CLI's retries outlast it).
UNHEALTHY_THRESHOLD = 3
# The request deadline (SHARER_REQUEST_TIMEOUT, also gunicorn's graceful stop) and the
# timeouts ordered around it, in seconds; see the module docstring.
REQUEST_DEADLINE_SECONDS = 30
ORIGIN_READ_TIMEOUT_SECONDS = 35
ORIGIN_KEEPALIVE_SECONDS = 50
BALANCER_IDLE_TIMEOUT_SECONDS = 60
SERVER_KEEPALIVE_SECONDS = 75
DEREGISTRATION_DELAY_SECONDS = 45
# CloudFront appends the viewer's address to X-Forwarded-For, the balancer CloudFront's.
FORWARDED_HOPS = 2
CPU_TARGET_PERCENT = 60


METRICS_PORT = 9100


def server_settings() -> dict[str, str]:
    """The server's own settings behind CloudFront and the balancer (src/sharer/settings.py)."""
    return {
        "SHARER_BIND": f"0.0.0.0:{PORT}",
        "SHARER_REQUEST_TIMEOUT": str(REQUEST_DEADLINE_SECONDS),
        "SHARER_KEEPALIVE_SECONDS": str(SERVER_KEEPALIVE_SECONDS),
        "SHARER_FORWARDED_HOPS": str(FORWARDED_HOPS),
        # Every connection comes from the balancer: a per-client cap would cap everyone.
        "SHARER_MAX_CONNECTIONS_PER_CLIENT": "0",
        # GET /metrics on loopback only (CloudWatch has the metrics on AWS): the balancer's
        # port answers it 404, as CloudFront does.
        "SHARER_METRICS_BIND": f"127.0.0.1:{METRICS_PORT}",
    }


class UploadTier(Construct):
    """``load_balancer`` (internal) in front of ``group``, servers running sharer@server.

    ``role`` is the servers' instance role (the stack grants it the bucket, the queues and
    invalidations). Their settings are published with ``publish_settings`` once the
    CloudFront distribution they name exists; the instances only know the parameter's
    name, ``settings_parameter_name``.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        vpc: ec2.IVpc,
        ami_id: str,
        image_version: str,
        instance_type: str,
        min_capacity: int,
        max_capacity: int,
        agent_parameter_name: str,
    ) -> None:
        super().__init__(scope, construct_id)
        self.settings_parameter_name = parameter_name(self, "server")
        self.role = instance_role(self, "Role", role_name="server")
        user_data = boot_user_data(
            "server",
            settings_parameter_name=self.settings_parameter_name,
            agent_parameter_name=agent_parameter_name,
        )
        user_data.add_commands(
            f"{WAIT_HEALTHY_COMMAND} http://127.0.0.1:{PORT}{HEALTH_PATH} {HEALTHY_WAIT_SECONDS}"
        )
        self.launch_template = role_launch_template(
            self,
            "LaunchTemplate",
            ami_id=ami_id,
            image_version=image_version,
            instance_type=instance_type,
            role=self.role,
            settings_parameter_name=self.settings_parameter_name,
            security_group=https_only_security_group(
                self,
                "SecurityGroup",
                vpc=vpc,
                description="Sharer servers: balancer in, HTTPS out.",
            ),
            user_data=user_data,
        )
        signal_timeout = Duration.seconds(HEALTHY_WAIT_SECONDS + ROUTABLE_WAIT_SECONDS + 300)
        self.group = autoscaling.AutoScalingGroup(
            self,
            "Group",
            vpc=vpc,
            # Public subnets for their way out (SSM, SQS, CloudWatch, CloudFront's API);
            # nothing reaches the servers but the balancer (docs/deploy.md).
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PUBLIC),
            launch_template=self.launch_template,
            min_capacity=min_capacity,
            max_capacity=max_capacity,
            health_checks=autoscaling.HealthChecks.with_additional_checks(
                additional_types=[autoscaling.AdditionalHealthCheckType.ELB],
                grace_period=Duration.seconds(HEALTHY_WAIT_SECONDS),
            ),
            signals=autoscaling.Signals.wait_for_min_capacity(timeout=signal_timeout),
            update_policy=autoscaling.UpdatePolicy.rolling_update(
                max_batch_size=1,
                min_instances_in_service=min_capacity,
                pause_time=signal_timeout,
                wait_on_resource_signals=True,
            ),
            # Health replacements and lifetime expiry launch before they terminate.
            min_healthy_percentage=100,
            max_healthy_percentage=200,
            max_instance_lifetime=MAX_INSTANCE_LIFETIME,
        )
        user_data.add_signal_on_exit_command(self.group)
        self.group.scale_on_cpu_utilization("Cpu", target_utilization_percent=CPU_TARGET_PERCENT)
        acknowledge(
            self.group,
            "AwsSolutions-AS3",
            "Server replacements and scaling are routine; the balancer's health checks and "
            "the activity history show them, and notifications would bury the real alarms.",
        )

        balancer_group = ec2.SecurityGroup(
            self,
            "BalancerSecurityGroup",
            vpc=vpc,
            description="Sharer load balancer: CloudFront in, servers out.",
            allow_all_outbound=False,
        )
        balancer_group.add_ingress_rule(
            ec2.Peer.prefix_list(self._cloudfront_prefix_list_id()),
            ec2.Port.tcp(LISTENER_PORT),
            "CloudFront origin-facing servers only",
        )
        self.load_balancer = elbv2.ApplicationLoadBalancer(
            self,
            "LoadBalancer",
            vpc=vpc,
            internet_facing=False,
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED),
            security_group=balancer_group,
            idle_timeout=Duration.seconds(BALANCER_IDLE_TIMEOUT_SECONDS),
            drop_invalid_header_fields=True,
        )
        listener = self.load_balancer.add_listener(
            "Http", port=LISTENER_PORT, protocol=elbv2.ApplicationProtocol.HTTP, open=False
        )
        self.target_group = listener.add_targets(
            "Servers",
            port=PORT,
            protocol=elbv2.ApplicationProtocol.HTTP,
            targets=[self.group],
            deregistration_delay=Duration.seconds(DEREGISTRATION_DELAY_SECONDS),
            health_check=elbv2.HealthCheck(
                path=HEALTH_PATH,
                healthy_http_codes="200",
                interval=Duration.seconds(HEALTH_CHECK_INTERVAL_SECONDS),
                timeout=Duration.seconds(5),
                healthy_threshold_count=HEALTHY_THRESHOLD,
                unhealthy_threshold_count=UNHEALTHY_THRESHOLD,
            ),
        )
        listener.add_action(
            "DependencyHealthNotPublic",
            priority=1,
            conditions=[elbv2.ListenerCondition.path_patterns([DEPENDENCY_HEALTH_PATH])],
            action=elbv2.ListenerAction.fixed_response(
                404, content_type="application/json", message_body='{"error": "not found"}'
            ),
        )
        # The signal waits for the balancer's own verdict on the new server.
        user_data.add_commands(
            f"{WAIT_ROUTABLE_COMMAND} --target-group-arn {self.target_group.target_group_arn}"
            f" --region {Aws.REGION} --seconds {ROUTABLE_WAIT_SECONDS}"
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["elasticloadbalancing:DescribeTargetHealth"], resources=["*"]
            )
        )
        acknowledge(
            self.role,
            "AwsSolutions-IAM5[Resource::*]",
            "elasticloadbalancing:DescribeTargetHealth supports no resource-level "
            "permissions; it only reads target states, for the boot signal to wait until "
            "the balancer routes to the new server.",
        )
        acknowledge(
            self.load_balancer,
            "AwsSolutions-ELB2",
            "Every request reaches the balancer through CloudFront, whose standard logs in the "
            "log bucket already record it (delivered: the template refuses the opt-in Regions, "
            "where legacy standard logs are not; cdk/deploy_regions.py); balancer logs would "
            "be a second copy of each.",
        )
        skip_checkov(
            self.load_balancer,
            "CKV_AWS_91",
            "Every request reaches the balancer through CloudFront, whose logs record it (as "
            "AwsSolutions-ELB2 above).",
        )
        for check in ("CKV_AWS_2", "CKV_AWS_103"):
            skip_checkov(
                listener,
                check,
                "Plain HTTP from CloudFront's VPC origin inside AWS's network to an internal "
                "balancer; HTTPS needs a certificate for a domain the project does not have "
                "(docs/deploy.md, Known limits; AwsSolutions-CFR5 on the distribution).",
            )

    def publish_settings(self, settings: Mapping[str, str]) -> ssm.StringParameter:
        """Create the servers' settings parameter; servers launch once it exists."""
        parameter = settings_parameter(
            self, "Settings", name=self.settings_parameter_name, settings=settings
        )
        self.group.node.add_dependency(parameter)
        return parameter

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
        function = function_role.node.scope
        assert function is not None
        for check, reason in (
            ("CKV_AWS_116", "CloudFormation invokes it synchronously; a DLQ only serves async"),
            (
                "CKV_AWS_117",
                "it calls EC2's public API once per deploy and reaches nothing private",
            ),
            ("CKV_AWS_115", "only CloudFormation invokes it, once per deploy of this stack"),
        ):
            skip_checkov(function, check, f"CDK's lookup function (AwsCustomResource): {reason}.")
        return lookup.get_response_field("PrefixLists.0.PrefixListId")
