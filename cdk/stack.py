"""The one stack: every construct of cdk/, wired together, and the outputs a user needs."""

from aws_cdk import App, CfnOutput, Stack, Validations
from aws_cdk import aws_logs as logs
from cdk_nag import AwsSolutionsChecks
from constructs import Construct

from cdk.config import DeployConfig, config_from_context
from cdk.delivery import Delivery
from cdk.logs import LogShipping
from cdk.monitoring import Monitoring
from cdk.network import Network
from cdk.queues import Queues
from cdk.server import PORT, Server
from cdk.storage import Storage
from cdk.worker_fleet import WorkerFleet
from cdk.worker_image import WorkerImage

LOG_RETENTION_DAYS = 30
# CDK feature flags this app relies on, set in code so that `python app.py` (make synth)
# and the CDK CLI build the same template: access logs delivered by bucket policy rather
# than the legacy ACL, and a per-stack name for the server's IMDSv2 launch template.
FEATURE_FLAGS = {
    "@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy": True,
    "@aws-cdk/aws-ec2:uniqueImdsv2TemplateName": True,
}


class SharerStack(Stack):
    """Bucket, queues, AMI, worker fleet, server, CloudFront and monitoring."""

    def __init__(self, scope: Construct, config: DeployConfig) -> None:
        super().__init__(
            scope,
            config.stack_name,
            description="My Little Image Sharer: upload API, thumbnail workers, CDN.",
        )
        self.config = config
        storage = Storage(self, "Storage", log_retention_days=LOG_RETENTION_DAYS)
        queues = Queues(self, "Queues")
        network = Network(self, "Network", log_bucket=storage.log_bucket)
        log_shipping = LogShipping(self, "LogShipping", retention=logs.RetentionDays.ONE_MONTH)
        image = WorkerImage(
            self,
            "WorkerImage",
            vpc=network.vpc,
            architecture=config.architecture,
            build_instance_type=config.worker_instance_type,
            log_bucket=storage.log_bucket,
        )
        fleet = WorkerFleet(
            self,
            "WorkerFleet",
            vpc=network.vpc,
            image=image,
            instance_type=config.worker_instance_type,
            fleet_min=config.fleet_min,
            fleet_max=config.fleet_max,
            steps=config.scaling_steps,
            storage=storage,
            queues=queues,
            log_shipping=log_shipping,
        )
        server = Server(
            self,
            "Server",
            vpc=network.vpc,
            image=image,
            instance_type=config.server_instance_type,
            storage=storage,
            queues=queues,
            log_shipping=log_shipping,
        )
        delivery = Delivery(
            self,
            "Delivery",
            bucket=storage.bucket,
            log_bucket=storage.log_bucket,
            server_domain_name=server.instance.instance_public_dns_name,
            server_port=PORT,
        )
        public_base_url = f"https://{delivery.domain_name}"
        server.publish_settings(public_base_url)
        monitoring = Monitoring(
            self,
            "Monitoring",
            queues=queues,
            fleet=fleet,
            steps=config.scaling_steps,
            worker_log_group=log_shipping.log_groups["worker"],
            latency_objective_seconds=config.latency_objective_seconds,
            alarm_email=config.alarm_email,
        )

        CfnOutput(self, "UploadUrl", value=f"{public_base_url}/", description="POST images here")
        CfnOutput(self, "CdnDomain", value=delivery.domain_name)
        CfnOutput(self, "BucketName", value=storage.bucket.bucket_name)
        CfnOutput(self, "QueueUrl", value=queues.queue.queue_url)
        CfnOutput(
            self,
            "DashboardUrl",
            value=(
                f"https://{self.region}.console.aws.amazon.com/cloudwatch/home?region={self.region}"
                f"#dashboards:name={monitoring.dashboard.dashboard_name}"
            ),
        )


def build(app: App) -> SharerStack:
    """Add the stack, configured from the app's context, and the cdk-nag checks to ``app``."""
    stack = SharerStack(app, config_from_context(app.node.try_get_context))
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return stack
