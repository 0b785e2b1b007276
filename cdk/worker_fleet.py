"""The worker Auto Scaling group and its step scaling on queue load (cdk/scaling.py).

Scale-in relies on the worker's own SIGTERM handling rather than a lifecycle hook: when
Auto Scaling terminates an instance, EC2 shuts it down normally, systemd sends SIGTERM,
and the worker stops receiving and finishes or releases its jobs within its grace period.
A message still held at the hard stop comes back after its visibility timeout, which
at-least-once delivery and idempotent jobs already cover. A hook would add an on-instance
agent, an Auto Scaling permission and a minutes-long wait for no stronger guarantee.
"""

from aws_cdk import Duration, Tags
from aws_cdk import aws_autoscaling as autoscaling
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_ec2 as ec2
from constructs import Construct

from cdk.access import grant_worker
from cdk.instances import https_only_security_group, instance_role, root_volume
from cdk.logs import LogShipping
from cdk.nag import acknowledge
from cdk.queues import Queues
from cdk.scaling import (
    INSTANCE_WARMUP_SECONDS,
    PERIOD_SECONDS,
    SCALE_IN_EVALUATION_PERIODS,
    SCALE_OUT_EVALUATION_PERIODS,
    ScalingSteps,
    Step,
    load_expression,
)
from cdk.settings import app_settings, boot_user_data, parameter_name, settings_parameter
from cdk.storage import Storage
from cdk.worker_image import WorkerImage


class WorkerFleet(Construct):
    """Launch template, Auto Scaling group, and the scale-out and scale-in policies."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        vpc: ec2.IVpc,
        image: WorkerImage,
        instance_type: str,
        fleet_min: int,
        fleet_max: int,
        steps: ScalingSteps,
        storage: Storage,
        queues: Queues,
        log_shipping: LogShipping,
    ) -> None:
        super().__init__(scope, construct_id)
        settings_name = parameter_name(self, "worker")
        settings = settings_parameter(
            self,
            "Settings",
            name=settings_name,
            settings=app_settings(storage, queues),
        )
        role = instance_role(
            self,
            "Role",
            role_name="worker",
            settings_parameter_name=settings_name,
            log_shipping=log_shipping,
        )
        grant_worker(role, storage.bucket, queues.queue, queues.dead_letter_queue)
        template = ec2.LaunchTemplate(
            self,
            "LaunchTemplate",
            machine_image=ec2.MachineImage.resolve_ssm_parameter_at_launch(
                image.ami_parameter_name
            ),
            instance_type=ec2.InstanceType(instance_type),
            role=role,
            security_group=https_only_security_group(
                self, "SecurityGroup", vpc=vpc, description="Sharer workers: nothing in, HTTPS out."
            ),
            user_data=boot_user_data(
                "worker",
                settings_parameter_name=settings_name,
                agent_parameter_name=log_shipping.agent_parameter_name,
            ),
            require_imdsv2=True,
            detailed_monitoring=True,
            block_devices=[root_volume()],
        )
        # The AMI id is resolved at launch, so nothing in the template would change with a
        # new image; this tag does, which makes a deploy of a new version roll the fleet.
        Tags.of(template).add("sharer:app-version", image.version)

        self.group = autoscaling.AutoScalingGroup(
            self,
            "Group",
            vpc=vpc,
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PUBLIC),
            launch_template=template,
            min_capacity=fleet_min,
            max_capacity=fleet_max,
            group_metrics=[autoscaling.GroupMetrics.all()],
            default_instance_warmup=Duration.seconds(INSTANCE_WARMUP_SECONDS),
            cooldown=Duration.seconds(INSTANCE_WARMUP_SECONDS),
            update_policy=autoscaling.UpdatePolicy.rolling_update(
                max_batch_size=1, min_instances_in_service=min(fleet_min, fleet_max - 1)
            ),
        )
        # Instances resolve the AMI parameter at launch and read the other two at first boot.
        self.group.node.add_dependency(image.ami_parameter, settings, log_shipping.agent_config)
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
                "visible": queues.queue.metric_approximate_number_of_messages_visible(
                    statistic="Maximum"
                ),
                "in_flight": queues.queue.metric_approximate_number_of_messages_not_visible(
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
