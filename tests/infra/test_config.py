"""Context parameters: defaults, overrides as `cdk -c` gives them, and clear refusals."""

from typing import Any

import pytest

from cdk.config import ConfigError, DeployConfig, config_from_context, instance_architecture
from cdk.scaling import DEFAULT_STEPS, Step


def _config(context: dict[str, Any]) -> DeployConfig:
    return config_from_context(context.get)


def test_no_context_gives_the_documented_defaults() -> None:
    config = _config({})
    assert config == DeployConfig()
    # The simulator's tuned bounds (bench/results/scaling.md).
    assert (config.fleet_min, config.fleet_max) == (2, 16)
    assert config.scaling_steps == DEFAULT_STEPS
    assert instance_architecture(config.worker_instance_type) == config.architecture


def test_command_line_strings_and_cdk_json_values_both_parse() -> None:
    config = _config(
        {
            "architecture": "x86_64",
            "workerInstanceType": "c7i.large",
            "serverInstanceType": "t3.small",
            "fleetMin": "0",
            "fleetMax": 12,
            "serverMin": "3",
            "serverMax": 6,
            "latencyObjectiveSeconds": "30",
            "alarmEmail": "ops@example.com",
            "imageRefresh": "2026-12-06",
            "scalingSteps": {"scaleOut": [[5, None, 100]], "scaleIn": [[None, 0.2, -50]]},
        }
    )
    assert (config.fleet_min, config.fleet_max) == (0, 12)
    assert (config.server_min, config.server_max) == (3, 6)
    assert config.image_refresh == "2026-12-06"
    assert config.latency_objective_seconds == 30
    assert config.scaling_steps.scale_out == (Step(5, None, 100),)
    assert config.alarm_email == "ops@example.com"


@pytest.mark.parametrize(
    ("instance_type", "architecture"),
    [
        ("t4g.small", "arm64"),
        ("c7g.large", "arm64"),
        ("m6gd.xlarge", "arm64"),
        ("c6gn.medium", "arm64"),
        ("x2gd.large", "arm64"),
        ("t3.small", "x86_64"),
        ("c7i.large", "x86_64"),
        ("m7i-flex.large", "x86_64"),
        ("g4dn.xlarge", "x86_64"),
        ("c5n.large", "x86_64"),
    ],
)
def test_instance_architecture_follows_aws_naming(instance_type: str, architecture: str) -> None:
    assert instance_architecture(instance_type) == architecture


@pytest.mark.parametrize(
    ("context", "named"),
    [
        ({"architecture": "sparc"}, "architecture"),
        ({"workerInstanceType": "t3.small"}, "workerInstanceType"),
        ({"serverInstanceType": "large"}, "large"),
        ({"fleetMin": "3", "fleetMax": "2"}, "fleetMin"),
        ({"fleetMax": "0", "fleetMin": "0"}, "fleetMax"),
        ({"fleetMax": "many"}, "fleetMax"),
        ({"serverMin": "1"}, "serverMin"),
        ({"wafRateLimit": "5"}, "wafRateLimit"),
        ({"serverMin": "4", "serverMax": "4"}, "serverMax"),
        ({"latencyObjectiveSeconds": "0"}, "latencyObjectiveSeconds"),
        ({"scalingSteps": "[]"}, "scalingSteps"),
    ],
)
def test_bad_values_are_refused_naming_the_parameter(context: dict[str, Any], named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        _config(context)
