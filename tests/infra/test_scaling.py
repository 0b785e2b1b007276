"""The scaling table a sizing tool imports: well-formed, and simulated as AWS computes it."""

import pytest
from cdk_synthesis import REPO_ROOT

from cdk.scaling import (
    DEFAULT_STEPS,
    ScalingSteps,
    ScalingStepsError,
    Step,
    next_capacity,
    steps_from_json,
)


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
        (1, 20.0, 2),  # +50% of 1 is 0.5: at least one instance
        (3, 50.0, 4),  # +1.5 truncates to 1
        (3, 100.0, 6),  # +100%
        (8, 1000.0, 10),  # capped at the maximum
        (3, 10.0, 3),  # in the dead band nothing happens
    ],
)
def test_next_capacity_rounds_as_ec2_auto_scaling(current: int, load: float, expected: int) -> None:
    assert next_capacity(DEFAULT_STEPS, current, load, minimum=1, maximum=10) == expected


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
    ],
)
def test_malformed_tables_are_refused(raw: str) -> None:
    with pytest.raises(ScalingStepsError):
        steps_from_json(raw)


def test_a_sizing_tool_can_import_the_table_without_aws_cdk() -> None:
    source = (REPO_ROOT / "cdk" / "scaling.py").read_text()
    assert "aws_cdk" not in source
    assert "constructs" not in source
    assert isinstance(DEFAULT_STEPS, ScalingSteps)
