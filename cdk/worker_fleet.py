"""The worker Auto Scaling group and its step scaling on queue load (cdk/scaling.py).

Scale-in relies on the worker's own SIGTERM handling rather than a lifecycle hook: when
Auto Scaling terminates an instance, EC2 shuts it down normally, systemd sends SIGTERM,
and the worker stops receiving and finishes or releases its jobs within its grace period.
A message still held at the hard stop comes back after its visibility timeout, which
at-least-once delivery and idempotent jobs already cover. A hook would add an on-instance
agent, an Auto Scaling permission and a minutes-long wait for no stronger guarantee.

A broken image or unit cannot deploy "successfully": the group's creation waits for a
signal from each of its first workers, and a rolling update for one from each new worker
before it stops an old one (cfn-signal, sent by user data with the exit status of
``READY_COMMAND``). A worker signals success only once its unit runs and its
``sharer-worker --self-check`` passes with its own role and settings: both queues and the
bucket answer, and it makes thumbnails. No signal in time fails the deploy, which
CloudFormation rolls back to the previous launch template version.
"""

from collections.abc import Mapping

from aws_cdk import Duration
from aws_cdk import aws_autoscaling as autoscaling
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from cdk.instance_settings import boot_user_data, parameter_name, settings_parameter
from cdk.instances import (
    MAX_INSTANCE_LIFETIME,
    https_only_security_group,
    instance_role,
    role_launch_template,
)
from cdk.nag import acknowledge
from cdk.scaling import (
    INSTANCE_WARMUP_SECONDS,
    PERIOD_SECONDS,
    SCALE_IN_EVALUATION_PERIODS,
    SCALE_OUT_EVALUATION_PERIODS,
    ScalingSteps,
    Step,
    load_expression,
)

# Installed into the AMI by image-builder/components/sharer-app.yml.
READY_COMMAND = "/opt/sharer/bin/sharer-worker-ready"
# A booting worker has this long to pass its self-check before its launch counts as failed.
READY_WAIT_SECONDS = 600
# CloudFormation waits this long for each signal: the wait above plus the boot before it.
SIGNAL_TIMEOUT = Duration.seconds(READY_WAIT_SECONDS + 300)


class WorkerFleet(Construct):
    """Launch template, Auto Scaling group, and the scale-out and scale-in policies.

    ``role`` is the workers' instance role (the stack grants it the bucket and queues),
    ``settings`` the parameter they read at start, ``launch_template`` and ``group``.
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
        fleet_min: int,
        fleet_max: int,
        steps: ScalingSteps,
        settings: Mapping[str, str],
        agent_parameter_name: str,
        queue: sqs.IQueue,
    ) -> None:
        super().__init__(scope, construct_id)
        settings_name = parameter_name(self, "worker")
        self.settings = settings_parameter(self, "Settings", name=settings_name, settings=settings)
        self.role = instance_role(self, "Role", role_name="worker")
        user_data = boot_user_data(
            "worker",
            settings_parameter_name=settings_name,
            agent_parameter_name=agent_parameter_name,
        )
        user_data.add_commands(f"{READY_COMMAND} {READY_WAIT_SECONDS}")
        self.launch_template = role_launch_template(
            self,
            "LaunchTemplate",
            ami_id=ami_id,
            image_version=image_version,
            instance_type=instance_type,
            role=self.role,
            settings_parameter_name=settings_name,
            security_group=https_only_security_group(
                self, "SecurityGroup", vpc=vpc, description="Sharer workers: nothing in, HTTPS out."
            ),
            user_data=user_data,
        )

        self.group = autoscaling.AutoScalingGroup(
            self,
            "Group",
            vpc=vpc,
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PUBLIC),
            launch_template=self.launch_template,
            min_capacity=fleet_min,
            max_capacity=fleet_max,
            group_metrics=[autoscaling.GroupMetrics.all()],
            default_instance_warmup=Duration.seconds(INSTANCE_WARMUP_SECONDS),
            signals=autoscaling.Signals.wait_for_min_capacity(timeout=SIGNAL_TIMEOUT),
            update_policy=autoscaling.UpdatePolicy.rolling_update(
                max_batch_size=1,
                min_instances_in_service=min(fleet_min, fleet_max - 1),
                pause_time=SIGNAL_TIMEOUT,
                wait_on_resource_signals=True,
            ),
            max_instance_lifetime=MAX_INSTANCE_LIFETIME,
        )
        user_data.add_signal_on_exit_command(self.group)
        # Instances read their settings at first boot.
        self.group.node.add_dependency(self.settings)
        acknowledge(
            self.group,
            "AwsSolutions-AS3",
            "Scaling is routine here; a notification per launch and termination would bury "
            "the DLQ and latency alarms. Activity history and the dashboard show it.",
        )
        self.load = cloudwatch.MathExpression(
            expression=load_expression(steps),
            label="Jobs per in-service worker",
            period=Duration.seconds(PERIOD_SECONDS),
            using_metrics={
                "visible": queue.metric_approximate_number_of_messages_visible(statistic="Maximum"),
                "in_flight": queue.metric_approximate_number_of_messages_not_visible(
                    statistic="Maximum"
                ),
                "in_service": self.group_metric("GroupInServiceInstances", statistic="Minimum"),
            },
        )
        self._policy(
            "ScaleOut",
            steps.scale_out,
            steps.scale_out_threshold,
            SCALE_OUT_EVALUATION_PERIODS,
            cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        )
        self._policy(
            "ScaleIn",
            steps.scale_in,
            steps.scale_in_threshold,
            SCALE_IN_EVALUATION_PERIODS,
            cloudwatch.ComparisonOperator.LESS_THAN_OR_EQUAL_TO_THRESHOLD,
        )

    def group_metric(
        self,
        metric_name: str,
        *,
        statistic: str,
        label: str | None = None,
        period: Duration | None = None,
    ) -> cloudwatch.Metric:
        """One of the group metrics the group collects (``GroupInServiceInstances``...)."""
        return cloudwatch.Metric(
            namespace="AWS/AutoScaling",
            metric_name=metric_name,
            dimensions_map={"AutoScalingGroupName": self.group.auto_scaling_group_name},
            statistic=statistic,
            label=label,
            period=period,
        )

    def _policy(
        self,
        name: str,
        steps: tuple[Step, ...],
        threshold: float,
        evaluation_periods: int,
        comparison: cloudwatch.ComparisonOperator,
    ) -> None:
        action = autoscaling.StepScalingAction(
            self,
            f"{name}Action",
            auto_scaling_group=self.group,
            adjustment_type=autoscaling.AdjustmentType.PERCENT_CHANGE_IN_CAPACITY,
            min_adjustment_magnitude=1,
            metric_aggregation_type=autoscaling.MetricAggregationType.MAXIMUM,
        )
        for step in steps:
            # Step bounds are relative to the alarm threshold.
            action.add_adjustment(
                adjustment=step.change,
                lower_bound=None if step.lower is None else step.lower - threshold,
                upper_bound=None if step.upper is None else step.upper - threshold,
            )
        alarm = cloudwatch.Alarm(
            self,
            f"{name}Alarm",
            alarm_description=f"{name}: jobs per in-service worker crossed {threshold}.",
            metric=self.load,
            threshold=threshold,
            comparison_operator=comparison,
            evaluation_periods=evaluation_periods,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        alarm.add_alarm_action(cloudwatch_actions.AutoScalingAction(action))
