"""Worker, server, reconciler and webhook delivery logs shipped to CloudWatch Logs by the
CloudWatch agent."""

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from cdk.instance_settings import grant_read_parameters, parameter_name
from cdk.nag import skip_checkov

ROLES = ("worker", "server")
# The reconciler's timer runs on the server instances (image-builder/systemd/), so its
# file goes to the server group, in a stream of its own beside the server's.
RECONCILER_LOG_FILE = "/var/log/sharer/reconcile.log"
# sharer@webhooks.service runs beside each server too (sharer-start-role).
WEBHOOKS_LOG_FILE = "/var/log/sharer/webhooks.log"


def log_file(role: str) -> str:
    """Where sharer@<role>.service appends its stdout and stderr (one JSON object a line)."""
    return f"/var/log/sharer/{role}.log"


def shipped_files(role: str) -> dict[str, str]:
    """The files an instance of ``role`` writes: path -> the log stream it goes to."""
    files = {log_file(role): "{instance_id}"}
    if role == "server":
        files[RECONCILER_LOG_FILE] = "{instance_id}-reconcile"
        files[WEBHOOKS_LOG_FILE] = "{instance_id}-webhooks"
    return files


class LogShipping(Construct):
    """A log group per role and the agent configuration that fills them.

    The configuration is an SSM parameter (``agent_parameter_name``) that
    sharer-start-role hands to ``amazon-cloudwatch-agent-ctl`` at first boot; one
    configuration serves both roles, each instance tailing the files its role writes (a
    file that never appears on an instance costs nothing).
    """

    def __init__(
        self, scope: Construct, construct_id: str, *, retention: logs.RetentionDays
    ) -> None:
        super().__init__(scope, construct_id)
        self.log_groups = {
            role: logs.LogGroup(
                self,
                f"{role.capitalize()}Logs",
                retention=retention,
                removal_policy=RemovalPolicy.DESTROY,
            )
            for role in ROLES
        }
        for group in self.log_groups.values():
            skip_checkov(
                group,
                "CKV_AWS_158",
                "CloudWatch Logs encrypts every log group at rest; a customer-managed KMS key "
                "would add a key policy and a monthly cost for logs of ids and timings, no "
                "image content.",
            )
        config = {
            "logs": {
                "logs_collected": {
                    "files": {
                        "collect_list": [
                            {
                                "file_path": path,
                                "log_group_name": group.log_group_name,
                                "log_stream_name": stream,
                                "timezone": "UTC",
                            }
                            for role, group in self.log_groups.items()
                            for path, stream in shipped_files(role).items()
                        ]
                    }
                }
            }
        }
        self.agent_parameter_name = parameter_name(self, "cloudwatch-agent")
        self.agent_config = ssm.StringParameter(
            self,
            "AgentConfig",
            parameter_name=self.agent_parameter_name,
            description="CloudWatch agent configuration for the sharer instances.",
            string_value=Stack.of(self).to_json_string(config),
        )

    def grant_shipping(self, role_name: str, instance_role: iam.IRole) -> None:
        """Let an instance of ``role_name`` read the agent configuration and write its logs."""
        grant_read_parameters(self, instance_role, [self.agent_parameter_name])
        self.log_groups[role_name].grant(
            instance_role, "logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"
        )
