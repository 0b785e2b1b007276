"""Alarms, the dashboard, and the metric the worker's logs give about thumbnail time."""

from aws_cdk import Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from cdk.job_queues import JobQueues
from cdk.nag import acknowledge, skip_checkov
from cdk.scaling import PERIOD_SECONDS, ScalingSteps
from cdk.worker_fleet import WorkerFleet
from sharer.metric_names import CLOUDWATCH_NAMESPACE, CLOUDWATCH_READY_LATENCY

# src/worker/processing.py logs this message, with "duration_ms", when a job's thumbnails
# are all stored.
JOB_DONE_PATTERN = '{ $.msg = "thumbnails ready" && $.duration_ms = * }'
JOB_DONE_VALUE = "$.duration_ms"
# src/worker/ready_metric.py emits READY_LATENCY_METRIC (embedded metric format) with each
# ready job: the wait from the server queueing the job to its thumbnails being stored.
METRIC_NAMESPACE = CLOUDWATCH_NAMESPACE
READY_LATENCY_METRIC = CLOUDWATCH_READY_LATENCY
PERIOD = Duration.seconds(PERIOD_SECONDS)


class Monitoring(Construct):
    """DLQ and latency alarms to an SNS topic, and one dashboard of the pipeline."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        queues: JobQueues,
        fleet: WorkerFleet,
        steps: ScalingSteps,
        worker_log_group: logs.ILogGroup,
        latency_objective_seconds: int,
        alarm_email: str | None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.topic = sns.Topic(
            self, "AlarmTopic", display_name="Image Sharer alarms", enforce_ssl=True
        )
        acknowledge(
            self.topic,
            "AwsSolutions-SNS2",
            "CloudWatch alarms cannot publish to a topic encrypted with the AWS-managed "
            "aws/sns key, and the alarm texts carry no user data that would justify a $1/month "
            "customer-managed key.",
        )
        skip_checkov(
            self.topic,
            "CKV_AWS_26",
            "CloudWatch alarms cannot publish to a topic encrypted with the AWS-managed aws/sns "
            "key, and the alarm texts carry no user data (as AwsSolutions-SNS2 above).",
        )
        if alarm_email:
            self.topic.add_subscription(subscriptions.EmailSubscription(alarm_email))
        action = cloudwatch_actions.SnsAction(self.topic)

        dead_letters = queues.dead_letter_queue.metric_approximate_number_of_messages_visible(
            statistic="Maximum", period=PERIOD
        )
        self.dead_letter_alarm = cloudwatch.Alarm(
            self,
            "DeadLetterAlarm",
            alarm_description="A job was dead-lettered: an image that cannot be thumbnailed "
            "or a worker failing repeatedly. Its status record says why.",
            metric=dead_letters,
            threshold=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        oldest = queues.queue.metric_approximate_age_of_oldest_message(
            statistic="Maximum", period=PERIOD
        )
        self.latency_alarm = cloudwatch.Alarm(
            self,
            "LatencyAlarm",
            alarm_description=f"A job has waited over {latency_objective_seconds} s, the "
            "latency objective: the fleet is at its maximum or the workers are not consuming.",
            metric=oldest,
            threshold=latency_objective_seconds,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=3,
            datapoints_to_alarm=2,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        ready_latency = cloudwatch.Metric(
            namespace=METRIC_NAMESPACE,
            metric_name=READY_LATENCY_METRIC,
            period=PERIOD,
            unit=cloudwatch.Unit.MILLISECONDS,
        )
        # The oldest message's age misses a job that waited long but is done; the workers'
        # own figure sees every job, though only once it is ready (a stalled fleet shows up
        # in the alarm above).
        self.ready_latency_alarm = cloudwatch.Alarm(
            self,
            "ReadyLatencyAlarm",
            alarm_description=f"The p99 wait from upload to thumbnails ready exceeded "
            f"{latency_objective_seconds} s, the latency objective.",
            metric=ready_latency.with_(statistic="p99"),
            threshold=latency_objective_seconds * 1000,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=3,
            datapoints_to_alarm=2,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        alarms = [self.dead_letter_alarm, self.latency_alarm, self.ready_latency_alarm]
        for alarm in alarms:
            alarm.add_alarm_action(action)

        job_duration = logs.MetricFilter(
            self,
            "JobDuration",
            log_group=worker_log_group,
            filter_pattern=logs.FilterPattern.literal(JOB_DONE_PATTERN),
            metric_namespace=METRIC_NAMESPACE,
            metric_name="ThumbnailJobMilliseconds",
            metric_value=JOB_DONE_VALUE,
            unit=cloudwatch.Unit.MILLISECONDS,
        ).metric(period=PERIOD)

        self.dashboard = cloudwatch.Dashboard(
            self,
            "Dashboard",
            dashboard_name=f"{Stack.of(self).stack_name}-sharer",
            default_interval=Duration.hours(3),
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Backlog (messages)",
                left=[
                    queues.queue.metric_approximate_number_of_messages_visible(
                        label="waiting", statistic="Maximum", period=PERIOD
                    ),
                    queues.queue.metric_approximate_number_of_messages_not_visible(
                        label="in flight", statistic="Maximum", period=PERIOD
                    ),
                    dead_letters.with_(label="dead-lettered"),
                ],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="Workers",
                left=[
                    fleet.group_metric(
                        "GroupInServiceInstances",
                        statistic="Maximum",
                        period=PERIOD,
                        label="in service",
                    ),
                    fleet.group_metric(
                        "GroupDesiredCapacity", statistic="Maximum", period=PERIOD, label="desired"
                    ),
                ],
                right=[fleet.load],
                right_annotations=[
                    cloudwatch.HorizontalAnnotation(
                        value=steps.scale_out_threshold, label="scale out"
                    ),
                    cloudwatch.HorizontalAnnotation(
                        value=steps.scale_in_threshold, label="scale in"
                    ),
                ],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="Thumbnail latency",
                left=[oldest.with_(label="oldest waiting job (s)")],
                left_annotations=[
                    cloudwatch.HorizontalAnnotation(
                        value=latency_objective_seconds, label="objective"
                    )
                ],
                right=[
                    job_duration.with_(statistic="p50", label="job p50 (ms)"),
                    job_duration.with_(statistic="p99", label="job p99 (ms)"),
                ],
                width=8,
            ),
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Upload to thumbnails ready (ms)",
                left=[
                    ready_latency.with_(statistic=statistic, label=f"ready {statistic}")
                    for statistic in ("p50", "p95", "p99")
                ],
                left_annotations=[
                    cloudwatch.HorizontalAnnotation(
                        value=latency_objective_seconds * 1000, label="objective"
                    )
                ],
                width=24,
            )
        )
        self.dashboard.add_widgets(
            cloudwatch.AlarmStatusWidget(title="Alarms", alarms=alarms, width=24)
        )
