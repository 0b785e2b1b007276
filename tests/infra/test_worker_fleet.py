"""The worker fleet: launch template, Auto Scaling group, and step scaling on queue load."""

from typing import Any

from aws_cdk.assertions import Match
from cdk_synthesis import Synthesized, render

from cdk.scaling import (
    INSTANCE_WARMUP_SECONDS,
    PERIOD_SECONDS,
    SCALE_IN_EVALUATION_PERIODS,
    SCALE_OUT_EVALUATION_PERIODS,
    Step,
)
from cdk.worker_fleet import READY_COMMAND, READY_WAIT_SECONDS, SIGNAL_TIMEOUT


def _launch_template(synthesized: Synthesized) -> tuple[str, dict[str, Any]]:
    return synthesized.launch_template("worker")


def _group(synthesized: Synthesized) -> tuple[str, dict[str, Any]]:
    return synthesized.group("worker")


def test_workers_boot_the_current_ami_with_imdsv2_and_encrypted_disks(
    synthesized: Synthesized,
) -> None:
    _, data = _launch_template(synthesized)
    # The deploy-time image's AMI itself, never a parameter resolved at launch, which a
    # rollback would not put back (tests/infra/test_rollback.py).
    image_id, _ = synthesized.only("AWS::ImageBuilder::Image")
    assert data["ImageId"] == {"Fn::GetAtt": [image_id, "ImageId"]}
    assert data["MetadataOptions"]["HttpTokens"] == "required"
    assert data["Monitoring"] == {"Enabled": True}
    assert data["InstanceType"] == synthesized.stack.config.worker_instance_type
    assert all(device["Ebs"]["Encrypted"] is True for device in data["BlockDeviceMappings"])
    assert "sharer-start-role worker " in render(data["UserData"]["Fn::Base64"])


def test_a_new_image_rolls_the_fleet_and_a_week_replaces_every_worker(
    synthesized: Synthesized,
) -> None:
    template_id, data = _launch_template(synthesized)
    _, recipe = synthesized.only("AWS::ImageBuilder::ImageRecipe")
    tags = data["TagSpecifications"][0]["Tags"]
    assert {"Key": "sharer:app-version", "Value": recipe["Version"]} in tags
    group_id, group = _group(synthesized)
    resource = synthesized.resources("AWS::AutoScaling::AutoScalingGroup")[group_id]
    assert group["LaunchTemplate"]["Version"] == {
        "Fn::GetAtt": [template_id, "LatestVersionNumber"]
    }
    assert "AutoScalingRollingUpdate" in resource["UpdatePolicy"]
    # A worker launched after a rebuild resolves the new AMI; none lives longer than this.
    assert group["MaxInstanceLifetime"] == 7 * 24 * 3600


def test_a_worker_counts_only_once_it_proves_it_can_work(synthesized: Synthesized) -> None:
    # CloudFormation's CreationPolicy and UpdatePolicy attributes: the group's creation
    # waits for a signal from each of its first workers, a rolling update for one from
    # each new worker before it stops an old one; no signal in time fails the deploy.
    template_id, _ = _launch_template(synthesized)
    group_id, group = _group(synthesized)
    timeout = f"PT{SIGNAL_TIMEOUT.to_minutes()}M"
    synthesized.template.has_resource(
        "AWS::AutoScaling::AutoScalingGroup",
        {
            "Properties": Match.object_like(
                {"LaunchTemplate": Match.object_like({"LaunchTemplateId": {"Ref": template_id}})}
            ),
            "CreationPolicy": {
                "ResourceSignal": {"Count": int(group["MinSize"]), "Timeout": timeout}
            },
            "UpdatePolicy": Match.object_like(
                {
                    "AutoScalingRollingUpdate": Match.object_like(
                        {"MaxBatchSize": 1, "PauseTime": timeout, "WaitOnResourceSignals": True}
                    )
                }
            ),
        },
    )
    # The signal carries the exit status of the self-check's wait, run after the unit
    # is started; it must be able to finish before CloudFormation gives up.
    user_data = synthesized.user_data(template_id)
    assert f"{READY_COMMAND} {READY_WAIT_SECONDS}" in user_data
    assert f"cfn-signal --stack {synthesized.stack.stack_name} --resource {group_id}" in user_data
    assert user_data.index("sharer-start-role worker") < user_data.index(READY_COMMAND)
    assert SIGNAL_TIMEOUT.to_seconds() > READY_WAIT_SECONDS


def test_group_sizes_metrics_and_warmup(synthesized: Synthesized) -> None:
    config = synthesized.stack.config
    _, group = _group(synthesized)
    assert (group["MinSize"], group["MaxSize"]) == (str(config.fleet_min), str(config.fleet_max))
    assert group["MetricsCollection"] == [{"Granularity": "1Minute"}]
    assert group["DefaultInstanceWarmup"] == INSTANCE_WARMUP_SECONDS
    # A group's Cooldown applies to simple scaling policies only; the step policies here
    # pace themselves by the warm-up, so a Cooldown would only mislead a reader.
    assert "Cooldown" not in group


def test_workers_accept_no_inbound_traffic(synthesized: Synthesized) -> None:
    _, data = _launch_template(synthesized)
    (group_ref,) = data["SecurityGroupIds"]
    group_id = group_ref["Fn::GetAtt"][0]
    group = synthesized.resources("AWS::EC2::SecurityGroup")[group_id]["Properties"]
    assert "SecurityGroupIngress" not in group
    ingress = synthesized.resources(
        "AWS::EC2::SecurityGroupIngress",
        {"Properties": {"GroupId": {"Fn::GetAtt": [group_id, "GroupId"]}}},
    )
    assert ingress == {}
    assert [(e["FromPort"], e["ToPort"]) for e in group["SecurityGroupEgress"]] == [(443, 443)]


def _scaling(synthesized: Synthesized) -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    """Comparison operator -> (step scaling policy, the alarm that triggers it)."""
    found = {}
    step_scaling = {"Properties": {"PolicyType": "StepScaling"}}
    for policy_id, policy in synthesized.resources(
        "AWS::AutoScaling::ScalingPolicy", step_scaling
    ).items():
        _, alarm = synthesized.only(
            "AWS::CloudWatch::Alarm", {"Properties": {"AlarmActions": [{"Ref": policy_id}]}}
        )
        found[alarm["ComparisonOperator"]] = (policy["Properties"], alarm)
    return found


def _adjustments(steps: tuple[Step, ...], threshold: float) -> list[dict[str, float]]:
    """The StepAdjustments a table of absolute steps becomes, bounds relative to threshold."""
    expected = []
    for step in steps:
        adjustment: dict[str, float] = {"ScalingAdjustment": step.change}
        if step.lower is not None:
            adjustment["MetricIntervalLowerBound"] = step.lower - threshold
        if step.upper is not None:
            adjustment["MetricIntervalUpperBound"] = step.upper - threshold
        expected.append(adjustment)
    return expected


def test_scaling_policies_carry_the_steps_of_the_one_table(synthesized: Synthesized) -> None:
    steps = synthesized.stack.config.scaling_steps
    group_id, _ = _group(synthesized)
    scaling = _scaling(synthesized)
    assert set(scaling) == {"GreaterThanOrEqualToThreshold", "LessThanOrEqualToThreshold"}
    expected = {
        "GreaterThanOrEqualToThreshold": (
            steps.scale_out,
            steps.scale_out_threshold,
            SCALE_OUT_EVALUATION_PERIODS,
        ),
        "LessThanOrEqualToThreshold": (
            steps.scale_in,
            steps.scale_in_threshold,
            SCALE_IN_EVALUATION_PERIODS,
        ),
    }
    for operator, (policy, alarm) in scaling.items():
        table, threshold, periods = expected[operator]
        assert policy["PolicyType"] == "StepScaling"
        # Step policies do not support Cooldown (AWS::AutoScaling::ScalingPolicy docs).
        assert "Cooldown" not in policy
        assert policy["AdjustmentType"] == "PercentChangeInCapacity"
        assert policy["AutoScalingGroupName"] == {"Ref": group_id}
        assert policy["StepAdjustments"] == _adjustments(table, threshold)
        assert alarm["Threshold"] == threshold
        assert alarm["EvaluationPeriods"] == periods


def test_scaling_alarms_watch_jobs_per_in_service_worker(synthesized: Synthesized) -> None:
    group_id, _ = _group(synthesized)
    queue_id, _ = synthesized.queue_ids()
    for _, alarm in _scaling(synthesized).values():
        metrics = {m["Id"]: m for m in alarm["Metrics"]}
        (expression,) = [m for m in metrics.values() if "Expression" in m]
        assert expression["ReturnData"] is True
        watched = {
            m["MetricStat"]["Metric"]["MetricName"]: m["MetricStat"]
            for m in metrics.values()
            if "MetricStat" in m
        }
        assert set(watched) == {
            "ApproximateNumberOfMessagesVisible",
            "ApproximateNumberOfMessagesNotVisible",
            "GroupInServiceInstances",
        }
        for name, stat in watched.items():
            assert stat["Period"] == PERIOD_SECONDS
            # The fewest workers in service over the period: the load is never understated.
            assert stat["Stat"] == ("Minimum" if name == "GroupInServiceInstances" else "Maximum")
            (dimension,) = stat["Metric"]["Dimensions"]
            expected = (
                {"Name": "AutoScalingGroupName", "Value": {"Ref": group_id}}
                if name == "GroupInServiceInstances"
                else {"Name": "QueueName", "Value": {"Fn::GetAtt": [queue_id, "QueueName"]}}
            )
            assert dimension == expected
        ids = {
            m["MetricStat"]["Metric"]["MetricName"]: i
            for i, m in metrics.items()
            if "MetricStat" in m
        }
        formula = expression["Expression"]
        # (waiting + in flight) / in service, never dividing by zero.
        assert f"({ids['ApproximateNumberOfMessagesVisible']} + " in formula
        assert f"{ids['ApproximateNumberOfMessagesNotVisible']})" in formula
        assert f"IF({ids['GroupInServiceInstances']} > 0" in formula
