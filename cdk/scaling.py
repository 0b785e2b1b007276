"""How the worker fleet scales: the one table the CDK stack and any sizing tool both read.

The metric is the **load per in-service worker**::

    load = (messages visible + messages in flight) / in-service instances

sampled every ``PERIOD_SECONDS``. An empty fleet (``fleetMin`` 0) has no worker to divide
by: there each job counts as a whole scale-out threshold, so one visible job breaches the
scale-out alarm and wakes the fleet (``load_expression``). Counting messages in flight as
well as those waiting means a fleet that is busy but keeping up is not shrunk into a
backlog, and dividing by the fleet size makes one table right for a fleet of 1 or of 40.

Each step changes the desired capacity by a percentage of the current one. EC2 Auto
Scaling truncates the result toward zero but never below one instance (a change between
-1 and 1 counts as -1 or 1); ``next_capacity`` reproduces that so a sizing tool can
simulate the fleet without AWS. Alarm semantics follow CloudWatch: the scale-out alarm
fires at ``load >= scale_out[0].lower``, the scale-in alarm at
``load <= scale_in[-1].upper``. The table refuses a scale-in bound of one job per worker
or more, and a scale-in step of -100%: a lone worker holding a job reads a load of at
least one, so the fleet reaches zero only when nothing is visible or in flight.
Scale-out reacts within two minutes; scale-in waits a quarter of an hour of low load, so
a lull between bursts keeps the fleet.

This module imports nothing from AWS CDK, so a sizing tool can use it on its own.
"""

import itertools
import json
import math
from dataclasses import dataclass
from typing import Any

PERIOD_SECONDS = 60
SCALE_OUT_EVALUATION_PERIODS = 2
SCALE_IN_EVALUATION_PERIODS = 15
# A new instance is not counted as capacity until this has passed: launch, boot, settings
# fetch and worker start take most of it. Chosen with the fleet simulator
# (bench/results/scaling.md): shorter lets the next step act before the instance serves.
INSTANCE_WARMUP_SECONDS = 120
# The ids the stack binds to the three metrics of ``load_expression``.
LOAD_METRIC_IDS = ("visible", "in_flight", "in_service")


class ScalingStepsError(ValueError):
    """The scaling table is not contiguous, or a step points the wrong way."""


@dataclass(frozen=True)
class Step:
    """Change the fleet by ``change`` percent while the load lies between the bounds.

    ``None`` is an open bound: minus infinity for ``lower``, plus infinity for ``upper``.
    """

    lower: float | None
    upper: float | None
    change: int


@dataclass(frozen=True)
class ScalingSteps:
    """Scale-out steps (ascending, open at the top) and scale-in steps (open at the bottom)."""

    scale_out: tuple[Step, ...]
    scale_in: tuple[Step, ...]

    def __post_init__(self) -> None:
        _check(self.scale_out, direction=1)
        _check(self.scale_in, direction=-1)
        if self.scale_in_threshold >= 1:
            raise ScalingStepsError(
                f"scale-in bound {self.scale_in_threshold} must lie below one job per worker, "
                "or the last worker could be removed while it holds a job"
            )
        if any(s.change <= -100 for s in self.scale_in):
            raise ScalingStepsError(
                "scale-in: a change of -100% or less would empty a fleet that still holds jobs"
            )
        if self.scale_in_threshold >= self.scale_out_threshold:
            raise ScalingStepsError(
                f"scale-in bound {self.scale_in_threshold} must lie below "
                f"scale-out bound {self.scale_out_threshold}"
            )

    @property
    def scale_out_threshold(self) -> float:
        """Load at or above which the fleet grows."""
        lower = self.scale_out[0].lower
        assert lower is not None  # _check guarantees it
        return lower

    @property
    def scale_in_threshold(self) -> float:
        """Load at or below which the fleet shrinks."""
        upper = self.scale_in[-1].upper
        assert upper is not None  # _check guarantees it
        return upper

    def change_for(self, load: float) -> int:
        """Percent change the policies ask for at ``load`` (0 between the thresholds)."""
        if load >= self.scale_out_threshold:
            return next(s.change for s in self.scale_out if s.upper is None or load < s.upper)
        if load <= self.scale_in_threshold:
            # Below the threshold AWS takes a step's upper bound inclusive, its lower exclusive.
            return next(
                s.change
                for s in self.scale_in
                if (s.lower is None or load > s.lower) and (s.upper is None or load <= s.upper)
            )
        return 0


def load_expression(steps: ScalingSteps) -> str:
    """The load as CloudWatch metric math over the metrics named by ``LOAD_METRIC_IDS``.

    With no worker in service each job counts as ``steps.scale_out_threshold``, so any job
    breaches the scale-out alarm; the load of an empty, idle fleet is 0.
    """
    visible, in_flight, in_service = LOAD_METRIC_IDS
    jobs = f"({visible} + {in_flight})"
    wake = f"{steps.scale_out_threshold:g}"
    return f"IF({in_service} > 0, {jobs} / {in_service}, {jobs} * {wake})"


def next_capacity(
    steps: ScalingSteps, current: int, load: float, minimum: int, maximum: int
) -> int:
    """Desired capacity after one policy action at ``load``, as EC2 Auto Scaling computes it."""
    percent = steps.change_for(load)
    if percent == 0:
        return current
    raw = current * percent / 100
    delta = math.copysign(max(1, math.floor(abs(raw))), percent)
    return int(min(maximum, max(minimum, current + delta)))


def steps_from_json(raw: str) -> ScalingSteps:
    """Parse ``{"scaleOut": [[lower, upper, change], ...], "scaleIn": [...]}``."""
    try:
        doc = json.loads(raw)
        scale_out = tuple(_step(item) for item in doc["scaleOut"])
        scale_in = tuple(_step(item) for item in doc["scaleIn"])
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise ScalingStepsError(f"scaling steps {raw!r}: {exc}") from exc
    return ScalingSteps(scale_out=scale_out, scale_in=scale_in)


def _step(item: Any) -> Step:
    lower, upper, change = item
    return Step(
        None if lower is None else float(lower),
        None if upper is None else float(upper),
        int(change),
    )


def _check(steps: tuple[Step, ...], direction: int) -> None:
    name = "scale-out" if direction > 0 else "scale-in"
    if not steps:
        raise ScalingStepsError(f"{name}: at least one step is needed")
    if any(s.change * direction <= 0 for s in steps):
        raise ScalingStepsError(
            f"{name}: every change must be {'positive' if direction > 0 else 'negative'}"
        )
    if direction > 0 and (steps[0].lower is None or steps[-1].upper is not None):
        raise ScalingStepsError(
            "scale-out: the first step needs a lower bound, the last none above"
        )
    if direction < 0 and (steps[0].lower is not None or steps[-1].upper is None):
        raise ScalingStepsError("scale-in: the first step needs no lower bound, the last an upper")
    for before, after in itertools.pairwise(steps):
        if before.upper is None or before.upper != after.lower:
            raise ScalingStepsError(f"{name}: steps must be contiguous ({before} then {after})")
    for step in steps:
        if step.lower is not None and step.upper is not None and step.lower >= step.upper:
            raise ScalingStepsError(f"{name}: empty step {step}")


DEFAULT_STEPS = ScalingSteps(
    # A worker holds a few jobs at once (one per thread); 5 per instance is a queue
    # forming, 25 a backlog outrunning the fleet. The steps double, then quadruple, because
    # capacity arrives minutes late: the fleet simulator chose them (bench/results/scaling.md).
    scale_out=(Step(5, 25, 100), Step(25, None, 300)),
    # Under half a job per instance the fleet is mostly idle.
    scale_in=(Step(None, 0.5, -25),),
)
