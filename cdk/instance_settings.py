"""How an instance learns its settings: SSM parameters read at every start of its unit.

A parameter, rather than values baked into user data, keeps the launch templates free of
the values that name other resources (the CloudFront domain and distribution id in the
server's): a template only carries the parameter's *name*, a plain string known before
anything exists, so a new distribution or queue never rewrites a launch template. Its IAM
grant is built from that name, never from the parameter resource, for the same reason.
"""

from collections.abc import Mapping

from aws_cdk import Aws, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from cdk.job_queues import MAX_RECEIVES, VISIBILITY_TIMEOUT_SECONDS

# Installed into the AMI by image-builder/components/sharer-app.yml.
START_ROLE_COMMAND = "/opt/sharer/bin/sharer-start-role"


def parameter_name(scope: Construct, purpose: str) -> str:
    """The SSM parameter name for ``purpose`` in this stack, e.g. /sharer/ImageSharer/worker."""
    return f"/sharer/{Stack.of(scope).stack_name}/{purpose}"


def parameter_arn(scope: Construct, name: str) -> str:
    """The ARN of the SSM parameter called ``name`` in this stack's account and region."""
    return Stack.of(scope).format_arn(
        service="ssm", resource="parameter", resource_name=name.lstrip("/")
    )


def grant_read_parameters(scope: Construct, role: iam.IRole, names: list[str]) -> None:
    """Let ``role`` read exactly the named parameters."""
    role.add_to_principal_policy(
        iam.PolicyStatement(
            actions=["ssm:GetParameter"], resources=[parameter_arn(scope, n) for n in names]
        )
    )


def app_settings(
    *,
    bucket_name: str,
    queue_url: str,
    dead_letter_queue_url: str,
    webhook_queue_url: str,
    webhook_dead_letter_queue_url: str,
) -> dict[str, str]:
    """The settings (src/sharer/settings.py) both roles share on AWS."""
    return {
        "SHARER_STORAGE_URL": f"s3://{bucket_name}",
        "SHARER_QUEUE_URL": queue_url,
        "SHARER_DEAD_LETTER_QUEUE_URL": dead_letter_queue_url,
        "SHARER_WEBHOOK_QUEUE_URL": webhook_queue_url,
        "SHARER_WEBHOOK_DEAD_LETTER_QUEUE_URL": webhook_dead_letter_queue_url,
        "SHARER_MAX_RECEIVES": str(MAX_RECEIVES),
        "SHARER_VISIBILITY_TIMEOUT": str(VISIBILITY_TIMEOUT_SECONDS),
        "SHARER_LOG_LEVEL": "INFO",
    }


def settings_parameter(
    scope: Construct, construct_id: str, *, name: str, settings: Mapping[str, str]
) -> ssm.StringParameter:
    """An SSM parameter holding ``settings`` as EnvironmentFile lines (KEY=VALUE)."""
    return ssm.StringParameter(
        scope,
        construct_id,
        parameter_name=name,
        description="Environment of a sharer unit; read by sharer-fetch-settings at start.",
        string_value="".join(f"{key}={value}\n" for key, value in settings.items()),
    )


def boot_user_data(
    role: str, *, settings_parameter_name: str, agent_parameter_name: str
) -> ec2.UserData:
    """User data that starts ``role`` (worker or server) at first boot and every boot after."""
    user_data = ec2.UserData.for_linux()
    user_data.add_commands(
        f"{START_ROLE_COMMAND} {role} {Aws.REGION} {settings_parameter_name} {agent_parameter_name}"
    )
    return user_data
