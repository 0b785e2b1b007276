"""The worker fleet: worker units started and stopped by the template's step scaling.

Each period the load is the template's alarm expression (evaluated by fleet_model/metric_math.py)
over the emulated queue's metrics and the number of workers in service; an alarm that has
breached for its evaluation periods applies its step policy through cdk/scaling.py's
``next_capacity`` (EC2 Auto Scaling's arithmetic). Alarm periods are compressed:
``period_seconds`` of wall time stand for the template's period (60 s), so a quarter of
an hour of scale-in evaluation takes seconds; the queue, the workers and their grace run in
real time. Scale-in stops a worker as an instance termination does (SIGTERM, SIGKILL after
the unit's TimeoutStopSec).
"""

import subprocess
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from botocore.exceptions import BotoCoreError, ClientError

from cdk.scaling import ScalingSteps, Step, next_capacity
from fleet_model.metric_math import compile_expression
from support.rehearsal.template import StepPolicy
from support.rehearsal.units import Unit


def scaling_steps(policies: list[StepPolicy]) -> ScalingSteps:
    """The template's two step policies as a ``ScalingSteps`` table (absolute bounds)."""

    def absolute(policy: StepPolicy) -> tuple[Step, ...]:
        def bound(value: float | None) -> float | None:
            return None if value is None else policy.threshold + value

        return tuple(Step(bound(lo), bound(hi), change) for lo, hi, change in policy.steps)

    (out,) = (p for p in policies if p.comparison.startswith("GreaterThan"))
    (inward,) = (p for p in policies if p.comparison.startswith("LessThan"))
    return ScalingSteps(scale_out=absolute(out), scale_in=absolute(inward))


@dataclass(frozen=True)
class Sample:
    """One period: the metrics, the load, and the capacity decided."""

    visible: int
    in_flight: int
    in_service: int
    load: float
    desired: int


@dataclass
class WorkerFleet:
    """Keeps the running worker units at the capacity the policies decide."""

    policies: list[StepPolicy]
    minimum: int
    maximum: int
    new_worker: Callable[[], Unit]
    queue_depth: Callable[[], tuple[int, int]]
    period_seconds: float
    workers: list[Unit] = field(default_factory=list)
    retired: list[Unit] = field(default_factory=list)
    desired: int = 0
    errors: list[str] = field(default_factory=list)
    samples: list[Sample] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        """Until ``stop``: one sample and decision per period."""
        (expression,) = {p.expression for p in self.policies}
        load_of = compile_expression(expression)
        steps = scaling_steps(self.policies)
        periods = {
            p.comparison.startswith("GreaterThan"): p.evaluation_periods for p in self.policies
        }
        self.desired = self.minimum
        self._resize(self.desired)
        while not self._stop.wait(self.period_seconds):
            try:
                self._period(load_of, steps, periods)
            except (OSError, subprocess.SubprocessError, ClientError, BotoCoreError) as error:
                # A period that could not be sampled or acted on is missed, as CloudWatch
                # misses a data point; the scenario reports it.
                self.errors.append(repr(error))

    def _period(
        self, load_of: Callable[[Mapping[str, float]], float], steps: ScalingSteps,
        periods: dict[bool, int],
    ) -> None:  # fmt: skip
        out, inward = steps.scale_out_threshold, steps.scale_in_threshold
        visible, in_flight = self.queue_depth()
        in_service = len(self.workers)
        load = load_of({"visible": visible, "in_flight": in_flight, "in_service": in_service})
        breached_out = self._breached(lambda s: s.load >= out, load >= out, periods[True])
        breached_in = self._breached(lambda s: s.load <= inward, load <= inward, periods[False])
        if breached_out or breached_in:
            # The policy changes the group's capacity; a lost instance is replaced.
            self.desired = next_capacity(steps, self.desired, load, self.minimum, self.maximum)
        self.samples.append(Sample(visible, in_flight, in_service, load, self.desired))
        self._resize(self.desired)

    def stop(self) -> None:
        """End ``run`` and stop every worker, those still leaving included."""
        self._stop.set()
        for unit in [*self.retired, *self.workers]:
            unit.stop()

    def _breached(self, past: Callable[[Sample], bool], now: bool, periods: int) -> bool:
        recent = self.samples[-(periods - 1) :] if periods > 1 else []
        return now and len(recent) == periods - 1 and all(past(s) for s in recent)

    def _resize(self, desired: int) -> None:
        while len(self.workers) < desired:
            unit = self.new_worker()
            unit.start()
            self.workers.append(unit)
        while len(self.workers) > desired:
            # The default termination policy: the oldest instance goes first.
            leaving = self.workers.pop(0)
            self.retired.append(leaving)
            threading.Thread(target=leaving.stop, daemon=True).start()
