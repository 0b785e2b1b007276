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
MIN_WORKER_INSTANCE_TYPES = 3
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
    # Spot may also launch these (the mixed instances policy); with workerInstanceType,
    # at least MIN_WORKER_INSTANCE_TYPES types, so one Spot pool's reclaim is not the fleet's.
    # Two vCPUs each like t4g.small, so every worker has the capacity the simulator assumed.
    worker_alternative_types: tuple[str, ...] = ("t4g.medium", "c6g.large", "c7g.large")
    # Workers always on-demand; Spot above them. Zero by default: the simulator shows the
    # two-minute notice outlasting a replacement's launch and boot (docs/scaling.md).
    worker_on_demand_base: int = 0
    server_instance_type: str = "t4g.small"
    fleet_min: int = 2
    fleet_max: int = 16
    server_min: int = 2
    server_max: int = 4
    scaling_steps: ScalingSteps = DEFAULT_STEPS
    # What the default fleet holds (p99 202 -> ready) on the standard scenarios, with
    # room for the model's unmeasured AWS figures (docs/scaling.md).
    latency_objective_seconds: int = 2
    alarm_email: str | None = None
    waf_rate_limit: int | None = None
    # Any new value builds a fresh image from the newest Amazon Linux (docs/deploy.md).
    image_refresh: str | None = None
    # The edge serves thumbnails' variants (cdk.variant_function). False for the first
    # deploy of variants over existing images, until their backfill is done
    # (docs/deploy.md, "Thumbnail variants on an existing deployment").
    edge_variants: bool = True

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
        self._check_worker_types()
        if not 0 <= self.worker_on_demand_base <= self.fleet_max:
            raise ConfigError(
                f"workerOnDemandBase={self.worker_on_demand_base}: "
                f"need 0 <= workerOnDemandBase <= fleetMax ({self.fleet_max})"
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

    @property
    def worker_instance_types(self) -> tuple[str, ...]:
        """Every type the worker group may launch, ``worker_instance_type`` first."""
        return (self.worker_instance_type, *self.worker_alternative_types)

    def _check_worker_types(self) -> None:
        types = self.worker_instance_types
        if len(set(types)) != len(types) or len(types) < MIN_WORKER_INSTANCE_TYPES:
            raise ConfigError(
                f"workerAlternativeTypes={list(self.worker_alternative_types)!r}: need at "
                f"least {MIN_WORKER_INSTANCE_TYPES - 1} types other than workerInstanceType "
                "and no repeats"
            )
        for instance_type in self.worker_alternative_types:
            if instance_architecture(instance_type) != self.architecture:
                raise ConfigError(
                    f"workerAlternativeTypes: {instance_type!r} is not an "
                    f"{self.architecture} instance type (architecture={self.architecture})"
                )


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
        worker_alternative_types=value(
            "worker_alternative_types", defaults.worker_alternative_types, _names
        ),
        worker_on_demand_base=value("worker_on_demand_base", defaults.worker_on_demand_base, int),
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
        edge_variants=value("edge_variants", defaults.edge_variants, _flag),
    )


def _steps(raw: Any) -> ScalingSteps:
    # -c on the command line gives a string; cdk.json gives the parsed object.
    return steps_from_json(raw if isinstance(raw, str) else json.dumps(raw))


def _flag(raw: Any) -> bool:
    # -c gives "true"/"false"; cdk.json gives a boolean.
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.lower() in ("true", "false"):
        return raw.lower() == "true"
    raise ValueError("must be true or false")


def _names(raw: Any) -> tuple[str, ...]:
    # -c gives "a,b,c"; cdk.json gives a list.
    items = raw.split(",") if isinstance(raw, str) else raw
    if not isinstance(items, list | tuple) or not all(isinstance(i, str) for i in items):
        raise TypeError("a list of instance type names, or one comma-separated string")
    return tuple(item.strip() for item in items if item.strip())


def _context_name(field: str) -> str:
    head, *rest = field.split("_")
    return head + "".join(word.capitalize() for word in rest)
