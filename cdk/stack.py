"""The one stack: every construct of cdk/, wired together, and the outputs a user needs.

The constructs take plain values and expose their roles and resources; what one may do
with another's (grants), and what must exist before what (dependencies), is decided here.
"""

from aws_cdk import App, CfnOutput, Duration, Stack, Validations
from aws_cdk import aws_logs as logs
from cdk_nag import AwsSolutionsChecks
from constructs import Construct

from cdk.access import (
    grant_server,
    grant_server_quotas,
    grant_webhook_delivery,
    grant_webhook_events,
    grant_worker,
)
from cdk.app_image import AppImage
from cdk.cdn import Cdn
from cdk.config import DeployConfig, config_from_context
from cdk.deploy_regions import DeployRegions
from cdk.image_bucket import ImageBucket
from cdk.instance_settings import app_settings
from cdk.job_queues import JobQueues
from cdk.logs import LogShipping
from cdk.monitoring import Monitoring
from cdk.network import Network
from cdk.quota_table import QuotaTable
from cdk.service_metrics import ServiceMetrics
from cdk.upload_rate_limit import UploadRateLimit
from cdk.upload_tier import (
    LISTENER_PORT,
    ORIGIN_KEEPALIVE_SECONDS,
    ORIGIN_READ_TIMEOUT_SECONDS,
    UploadTier,
    server_settings,
)
from cdk.webhook_queues import WebhookQueues
from cdk.worker_fleet import WorkerFleet

LOG_RETENTION_DAYS = 30
# CDK feature flags this app relies on, set in code so that `python app.py` (make synth)
# and the CDK CLI build the same template: access logs delivered by bucket policy rather
# than the legacy ACL, and a per-stack name for the IMDSv2 launch templates.
FEATURE_FLAGS = {
    "@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy": True,
    "@aws-cdk/aws-ec2:uniqueImdsv2TemplateName": True,
}


class SharerStack(Stack):
    """Bucket, queues, AMI, worker fleet, upload tier, CloudFront and monitoring."""

    def __init__(self, scope: Construct, config: DeployConfig) -> None:
        super().__init__(
            scope,
            config.stack_name,
            description="My Little Image Sharer: upload API, thumbnail workers, CDN.",
        )
        self.config = config
        regions = DeployRegions(self, "DeployRegions")
        images = ImageBucket(self, "ImageBucket", log_retention_days=LOG_RETENTION_DAYS)
        queues = JobQueues(self, "JobQueues")
        quotas = QuotaTable(self, "QuotaTable")
        webhook_queues = WebhookQueues(self, "WebhookQueues")
        network = Network(self, "Network", log_bucket=images.log_bucket, regions=regions)
        log_shipping = LogShipping(self, "LogShipping", retention=logs.RetentionDays.ONE_MONTH)
        image = AppImage(
            self,
            "AppImage",
            vpc=network.vpc,
            architecture=config.architecture,
            build_instance_type=config.worker_instance_type,
            log_bucket=images.log_bucket,
            refresh=config.image_refresh,
        )
        shared_settings = app_settings(
            bucket_name=images.bucket.bucket_name,
            queue_url=queues.queue.queue_url,
            dead_letter_queue_url=queues.dead_letter_queue.queue_url,
            webhook_queue_url=webhook_queues.queue.queue_url,
            webhook_dead_letter_queue_url=webhook_queues.dead_letter_queue.queue_url,
        )
        fleet = WorkerFleet(
            self,
            "WorkerFleet",
            vpc=network.vpc,
            ami_id=image.ami_id,
            image_version=image.version,
            instance_type=config.worker_instance_type,
            alternative_types=config.worker_alternative_types,
            on_demand_base=config.worker_on_demand_base,
            fleet_min=config.fleet_min,
            fleet_max=config.fleet_max,
            steps=config.scaling_steps,
            settings=shared_settings,
            agent_parameter_name=log_shipping.agent_parameter_name,
            queue=queues.queue,
        )
        uploads = UploadTier(
            self,
            "UploadTier",
            vpc=network.vpc,
            ami_id=image.ami_id,
            image_version=image.version,
            instance_type=config.server_instance_type,
            min_capacity=config.server_min,
            max_capacity=config.server_max,
            agent_parameter_name=log_shipping.agent_parameter_name,
        )
        rate_limit = (
            None
            if config.waf_rate_limit is None
            else UploadRateLimit(self, "UploadRateLimit", limit=config.waf_rate_limit)
        )
        cdn = Cdn(
            self,
            "Cdn",
            bucket=images.bucket,
            log_bucket=images.log_bucket,
            load_balancer=uploads.load_balancer,
            load_balancer_port=LISTENER_PORT,
            read_timeout=Duration.seconds(ORIGIN_READ_TIMEOUT_SECONDS),
            keepalive_timeout=Duration.seconds(ORIGIN_KEEPALIVE_SECONDS),
            web_acl_arn=None if rate_limit is None else rate_limit.web_acl.attr_arn,
            negotiate_variants=config.edge_variants,
        )
        public_base_url = f"https://{cdn.domain_name}"
        # The distribution names the balancer, never a server, so the servers' settings
        # (and invalidation grant) may name the distribution without a cycle.
        uploads.publish_settings(
            {
                **shared_settings,
                **server_settings(),
                "SHARER_PUBLIC_BASE_URL": public_base_url,
                # People reach the pages through CloudFront too: share links name it.
                "SHARER_SITE_URL": public_base_url,
                "SHARER_CDN_DISTRIBUTION_ID": cdn.distribution_id,
                "SHARER_QUOTA_STORE_URL": f"dynamodb://{quotas.table_name}",
            }
        )

        grant_worker(fleet.role, images.bucket, queues.queue, queues.dead_letter_queue)
        grant_server(uploads.role, images.bucket, queues.queue, queues.dead_letter_queue)
        grant_server_quotas(uploads.role, quotas.table)
        cdn.distribution.grant_create_invalidation(uploads.role)
        for role in (fleet.role, uploads.role):
            grant_webhook_events(role, webhook_queues.queue)
        # sharer-webhooks runs on the servers (image-builder/scripts/sharer-start-role.sh).
        grant_webhook_delivery(uploads.role, webhook_queues.queue, webhook_queues.dead_letter_queue)
        for role_name, role in (("worker", fleet.role), ("server", uploads.role)):
            log_shipping.grant_shipping(role_name, role)
        # Instances hand the agent its configuration at first boot.
        for group in (fleet.group, uploads.group):
            group.node.add_dependency(log_shipping.agent_config)

        ServiceMetrics(
            self,
            "ServiceMetrics",
            server_log_group=log_shipping.log_groups["server"],
            worker_log_group=log_shipping.log_groups["worker"],
        )
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
        CfnOutput(self, "CdnDomain", value=cdn.domain_name)
        CfnOutput(self, "BucketName", value=images.bucket.bucket_name)
        CfnOutput(self, "QueueUrl", value=queues.queue.queue_url)
        CfnOutput(
            self,
            "QuotaStoreUrl",
            value=f"dynamodb://{quotas.table_name}",
            description="SHARER_QUOTA_STORE_URL for sharer-admin keys",
        )
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
