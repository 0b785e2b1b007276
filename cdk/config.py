"""The deployment's context parameters: defaults, parsing and validation in one place.

Every value can be overridden with ``cdk synth|deploy -c name=value`` or in cdk.json's
``context``; docs/deploy.md lists them. A bad value fails synthesis with a
``ConfigError`` naming the parameter, before anything reaches CloudFormation.
"""

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from cdk.scaling import DEFAULT_STEPS, ScalingSteps, steps_from_json

T = TypeVar("T")

ARCHITECTURES = ("arm64", "x86_64")
# Graviton families carry a "g" after the generation digit: t4g, c7g, m6gd, c6gn, x2gd.
_GRAVITON_FAMILY = re.compile(r"^[a-z]+\d+[a-z]*g[a-z]*(-flex)?$")


class ConfigError(ValueError):
    """A context parameter is malformed; the message names it."""


@dataclass(frozen=True)
class DeployConfig:
    """Everything the stack lets an operator choose."""

    stack_name: str = "ImageSharer"
    architecture: str = "arm64"
    worker_instance_type: str = "t4g.small"
    server_instance_type: str = "t4g.small"
    fleet_min: int = 2
    fleet_max: int = 16
    server_min: int = 2
    server_max: int = 4
    scaling_steps: ScalingSteps = DEFAULT_STEPS
    latency_objective_seconds: int = 60
    alarm_email: str | None = None
    waf_rate_limit: int | None = None
    # Any new value builds a fresh image from the newest Amazon Linux (docs/deploy.md).
    image_refresh: str | None = None

    def __post_init__(self) -> None:
        if self.architecture not in ARCHITECTURES:
            raise ConfigError(f"architecture={self.architecture!r}: must be one of {ARCHITECTURES}")
        for name in ("worker_instance_type", "server_instance_type"):
            instance_type = getattr(self, name)
            if instance_architecture(instance_type) != self.architecture:
                raise ConfigError(
                    f"{_context_name(name)}={instance_type!r} is not an "
                    f"{self.architecture} instance type (architecture={self.architecture})"
                )
        if not 0 <= self.fleet_min <= self.fleet_max or self.fleet_max < 1:
            raise ConfigError(
                f"fleetMin={self.fleet_min}, fleetMax={self.fleet_max}: "
                "need 0 <= fleetMin <= fleetMax and fleetMax >= 1"
            )
        # Two zones need two servers; a rolling update starts a new one before it stops an
        # old one, so the group must have room for one more than its minimum.
        if self.server_min < 2 or self.server_max <= self.server_min:
            raise ConfigError(
                f"serverMin={self.server_min}, serverMax={self.server_max}: "
                "need serverMin >= 2 and serverMax > serverMin"
            )
        # AWS WAF's smallest rate-based limit.
        if self.waf_rate_limit is not None and self.waf_rate_limit < 10:
            raise ConfigError("wafRateLimit: uploads per client per 5 minutes, at least 10")
        if self.latency_objective_seconds < 1:
            raise ConfigError("latencyObjectiveSeconds: must be a positive number of seconds")


def instance_architecture(instance_type: str) -> str:
    """CPU architecture of an EC2 instance type, from AWS's naming convention."""
    family, dot, size = instance_type.partition(".")
    if not dot or not size or not re.match(r"^[a-z]+\d", family):
        raise ConfigError(f"{instance_type!r} is not an EC2 instance type like t4g.small")
    return "arm64" if _GRAVITON_FAMILY.match(family) else "x86_64"


def config_from_context(get: Callable[[str], Any]) -> DeployConfig:
    """Build the config from a context lookup (``app.node.try_get_context``)."""
    defaults = DeployConfig()

    def value(name: str, default: T, parse: Callable[[Any], T]) -> T:
        raw = get(_context_name(name))
        if raw is None:
            return default
        try:
            return parse(raw)
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"{_context_name(name)}={raw!r}: {exc}") from exc

    return DeployConfig(
        stack_name=value("stack_name", defaults.stack_name, str),
        architecture=value("architecture", defaults.architecture, str),
        worker_instance_type=value("worker_instance_type", defaults.worker_instance_type, str),
        server_instance_type=value("server_instance_type", defaults.server_instance_type, str),
        fleet_min=value("fleet_min", defaults.fleet_min, int),
        fleet_max=value("fleet_max", defaults.fleet_max, int),
        server_min=value("server_min", defaults.server_min, int),
        server_max=value("server_max", defaults.server_max, int),
        scaling_steps=value("scaling_steps", defaults.scaling_steps, _steps),
        latency_objective_seconds=value(
            "latency_objective_seconds", defaults.latency_objective_seconds, int
        ),
        alarm_email=value("alarm_email", defaults.alarm_email, str),
        waf_rate_limit=value("waf_rate_limit", defaults.waf_rate_limit, int),
        image_refresh=value("image_refresh", defaults.image_refresh, str),
    )


def _steps(raw: Any) -> ScalingSteps:
    # -c on the command line gives a string; cdk.json gives the parsed object.
    return steps_from_json(raw if isinstance(raw, str) else json.dumps(raw))


def _context_name(field: str) -> str:
    head, *rest = field.split("_")
    return head + "".join(word.capitalize() for word in rest)
