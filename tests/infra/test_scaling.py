"""The scaling table a sizing tool imports: well-formed, and simulated as AWS computes it."""

import math
from typing import Any

import pytest
from aws_cdk.assertions import Capture
from cdk_synthesis import Synthesized

from cdk.scaling import (
    DEFAULT_STEPS,
    ScalingStepsError,
    Step,
    next_capacity,
    steps_from_json,
)
from fleet_model.metric_math import evaluate
from support.fresh_interpreter import packages_loaded_by

_METRIC_NAMES = {
    "ApproximateNumberOfMessagesVisible": "visible",
    "ApproximateNumberOfMessagesNotVisible": "in_flight",
    "GroupInServiceInstances": "in_service",
}


def test_default_table_grows_above_and_shrinks_below_a_dead_band() -> None:
    steps = DEFAULT_STEPS
    assert steps.scale_in_threshold < steps.scale_out_threshold
    between = (steps.scale_in_threshold + steps.scale_out_threshold) / 2
    assert steps.change_for(between) == 0
    assert steps.change_for(steps.scale_out_threshold) > 0
    assert steps.change_for(steps.scale_in_threshold) < 0
    # More backlog never asks for less growth.
    loads = [steps.scale_out_threshold * k for k in (1, 2, 5, 10, 100)]
    changes = [steps.change_for(load) for load in loads]
    assert changes == sorted(changes)


@pytest.mark.parametrize(
    ("current", "load", "expected"),
    [
        (1, 0.0, 1),  # already at the minimum
        (4, 0.0, 3),  # -25% of 4 is exactly one instance
        (2, 0.5, 1),  # -25% of 2 is -0.5: AWS rounds a fraction to one instance
        (10, 0.5, 8),  # -2.5 truncates toward zero
        (1, 5.0, 2),  # +100% of 1
        (3, 10.0, 6),  # +100%
        (2, 30.0, 8),  # +300%
        (3, 25.0, 10),  # +300% of 3 is 9: capped at the maximum
        (8, 1000.0, 10),  # capped at the maximum
        (3, 2.0, 3),  # in the dead band nothing happens
    ],
)
def test_next_capacity_rounds_as_ec2_auto_scaling(current: int, load: float, expected: int) -> None:
    assert next_capacity(DEFAULT_STEPS, current, load, minimum=1, maximum=10) == expected


def test_scaling_in_an_empty_fleet_leaves_it_empty() -> None:
    # -25% of nothing is a change of zero, which EC2 Auto Scaling still counts as -1:
    # clamped at the minimum, never a launch.
    assert next_capacity(DEFAULT_STEPS, 0, 0.0, minimum=0, maximum=10) == 0


def test_steps_round_trip_from_json() -> None:
    steps = steps_from_json(
        '{"scaleOut": [[10, 50, 25], [50, null, 200]], "scaleIn": [[null, 0.5, -50]]}'
    )
    assert steps.scale_out == (Step(10, 50, 25), Step(50, None, 200))
    assert steps.scale_in == (Step(None, 0.5, -50),)


@pytest.mark.parametrize(
    "raw",
    [
        "not json",
        '{"scaleOut": [[10, null, 50]]}',  # no scale-in table
        '{"scaleOut": [[10, 20, 50], [30, null, 100]], "scaleIn": [[null, 1, -25]]}',  # gap
        '{"scaleOut": [[10, null, -50]], "scaleIn": [[null, 1, -25]]}',  # shrinks on load
        '{"scaleOut": [[10, 20, 50]], "scaleIn": [[null, 1, -25]]}',  # closed at the top
        '{"scaleOut": [[10, null, 50]], "scaleIn": [[null, 20, -25]]}',  # bands overlap
        '{"scaleOut": [[10, null, 50]], "scaleIn": [[0, 1, -25]]}',  # closed at the bottom
        '{"scaleOut": [[10, null, 50]], "scaleIn": [[null, 1, -25]]}',  # a lone busy worker
        '{"scaleOut": [[10, null, 50]], "scaleIn": [[null, 0.5, -100]]}',  # empties the fleet
    ],
)
def test_malformed_tables_are_refused(raw: str) -> None:
    with pytest.raises(ScalingStepsError):
        steps_from_json(raw)


def test_a_sizing_tool_can_import_the_table_without_aws_cdk() -> None:
    loaded = packages_loaded_by("cdk.scaling")
    assert "cdk" in loaded
    assert loaded & {"aws_cdk", "constructs", "jsii"} == set()


class _ScalingAlarm:
    """A scaling alarm from the template: its expression, threshold and policy's steps."""

    def __init__(self, synthesized: Synthesized, operator: str) -> None:
        metrics, threshold, actions = Capture(), Capture(), Capture()
        synthesized.template.has_resource_properties(
            "AWS::CloudWatch::Alarm",
            {
                "ComparisonOperator": operator,
                "Metrics": metrics,
                "Threshold": threshold,
                "AlarmActions": actions,
            },
        )
        queries: list[dict[str, Any]] = metrics.as_array()
        (self.expression,) = [q["Expression"] for q in queries if "Expression" in q]
        self.ids = {
            _METRIC_NAMES[q["MetricStat"]["Metric"]["MetricName"]]: q["Id"]
            for q in queries
            if "MetricStat" in q
        }
        self.threshold = threshold.as_number()
        self.operator = operator
        (policy_ref,) = actions.as_array()
        policy = synthesized.resources("AWS::AutoScaling::ScalingPolicy")[policy_ref["Ref"]]
        self.policy: dict[str, Any] = policy["Properties"]

    def value(self, *, visible: float, in_flight: float, in_service: float) -> float:
        """The expression as CloudWatch evaluates it for one period's metric values."""
        named = {"visible": visible, "in_flight": in_flight, "in_service": in_service}
        return evaluate(self.expression, {self.ids[k]: v for k, v in named.items()})

    def breaches(self, value: float) -> bool:
        """Whether ``value`` is beyond the threshold in the alarm's direction."""
        if self.operator == "GreaterThanOrEqualToThreshold":
            return value >= self.threshold
        assert self.operator == "LessThanOrEqualToThreshold"
        return value <= self.threshold

    def capacity_after(self, current: int, value: float) -> int:
        """The policy's step for ``value`` applied to ``current``, as EC2 Auto Scaling does."""
        breach = value - self.threshold
        # Above the threshold a step's lower bound is inclusive, below it the upper one.
        above = self.operator == "GreaterThanOrEqualToThreshold"
        (step,) = [
            s
            for s in self.policy["StepAdjustments"]
            if _within(
                breach,
                s.get("MetricIntervalLowerBound", -math.inf),
                s.get("MetricIntervalUpperBound", math.inf),
                lower_inclusive=above,
            )
        ]
        assert self.policy["AdjustmentType"] == "PercentChangeInCapacity"
        raw = current * step["ScalingAdjustment"] / 100
        magnitude = max(self.policy["MinAdjustmentMagnitude"], math.floor(abs(raw)))
        return current + int(math.copysign(magnitude, step["ScalingAdjustment"]))


def _within(value: float, lower: float, upper: float, *, lower_inclusive: bool) -> bool:
    if lower_inclusive:
        return lower <= value < upper
    return lower < value <= upper


def test_an_empty_fleet_wakes_for_one_visible_job(synthesized: Synthesized) -> None:
    alarm = _ScalingAlarm(synthesized, "GreaterThanOrEqualToThreshold")
    one_job = alarm.value(visible=1, in_flight=0, in_service=0)
    assert alarm.breaches(one_job)
    assert alarm.capacity_after(0, one_job) == 1
    # Nothing to do leaves an empty fleet alone, and a busy fleet is measured per worker.
    assert not alarm.breaches(alarm.value(visible=0, in_flight=0, in_service=0))
    assert alarm.value(visible=30, in_flight=10, in_service=4) == 10


def test_the_last_worker_stays_while_a_job_is_visible_or_in_flight(
    synthesized: Synthesized,
) -> None:
    alarm = _ScalingAlarm(synthesized, "LessThanOrEqualToThreshold")
    for visible, in_flight in ((0, 1), (1, 0)):
        assert not alarm.breaches(alarm.value(visible=visible, in_flight=in_flight, in_service=1))
    idle = alarm.value(visible=0, in_flight=0, in_service=1)
    assert alarm.breaches(idle)
    assert alarm.capacity_after(1, idle) == 0
    # Two workers sharing one job shrink to one, never to none.
    shared = alarm.value(visible=0, in_flight=1, in_service=2)
    assert not alarm.breaches(shared) or alarm.capacity_after(2, shared) >= 1


@pytest.mark.parametrize("in_service", [1, 2, 3, 5, 8, 13, 40])
@pytest.mark.parametrize("jobs", [1, 2, 7, 100])
def test_a_fleet_holding_jobs_never_shrinks_to_zero(in_service: int, jobs: int) -> None:
    load = jobs / in_service
    assert next_capacity(DEFAULT_STEPS, in_service, load, minimum=0, maximum=100) >= 1


def test_scale_in_picks_the_step_holding_the_load() -> None:
    steps = steps_from_json(
        '{"scaleOut": [[10, null, 50]], "scaleIn": [[null, 0.2, -50], [0.2, 0.8, -10]]}'
    )
    assert steps.change_for(0.5) == -10
    assert steps.change_for(0.2) == -50  # an upper bound is inclusive below the threshold
    assert steps.change_for(0.1) == -50
