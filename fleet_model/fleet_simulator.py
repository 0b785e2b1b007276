"""A discrete-event simulation of the pipeline on AWS: uploads, SQS, the worker fleet.

It answers what a deployment would do under a traffic shape before anyone deploys: the
202 -> ready latency of every job, the oldest message's age (what the latency alarm
sees), the backlog, the in-service and desired instances, and what it all costs.

What it models, and how (docs/scaling.md says what it cannot know):

- **Arrivals**: Poisson, at a scenario's piecewise-linear rate (uploads/s), or a given
  list of arrival times (the calibration replays measured ones).
- **Service**: each job takes a time drawn from a calibration file's samples (its path is
  the caller's to give), measured by running the real worker on this machine, for the
  number of jobs then running on the instance, mapped from this machine's cores to the
  instance's vCPUs by threads per core. A per-job overhead (S3 and SQS round trips) is
  added on AWS.
- **The fleet** as AWS runs it: the load expression and step table of ``cdk/scaling.py``
  evaluated on one-minute datapoints that reach the alarm ``metric_delay_s`` late; an
  alarm acts after its evaluation periods all breach, and Auto Scaling re-runs the policy
  every minute while it stays in alarm; ``next_capacity`` on the current capacity (the
  instances past their warm-up), never lowering the desired capacity on scale-out; no
  scale-in while an instance warms up. A launched instance is in service after
  ``launch_s``, consumes after ``boot_s`` more, and counts as capacity after the warm-up.
  Scale-in takes a random instance: it stops receiving, finishes what it holds within the
  grace period, and a job still running then goes back to the queue (redelivery).
- **Spot**: the first ``on_demand_base`` instances are on-demand, the rest Spot. A Spot
  instance is interrupted at ``interruptions_per_hour`` (a scenario parameter: Poisson
  per instance); on the notice it stops receiving, finishes its jobs within the notice
  (or gives them back, redelivered) and is gone; the group launches a replacement.
- **Cost**: instance-seconds (60 s minimum each) at the dated price table
  ``fleet_model/instance_prices.json``, on-demand or Spot. Burstable (T) instances earn CPU
  credits at their baseline from launch (no launch credits), banking at most a day's
  earnings; the instances present at the start may hold a bank (``initial_credit_hours``
  of earnings: a fleet that has run a while, where 0 is one just deployed or replaced).
  In unlimited mode CPU beyond the bank is billed as surplus credits; in standard mode
  it is not, and an instance with an empty bank runs at its baseline: a job it starts
  then takes longer by the ratio of the vCPUs it would use to the baseline (an
  approximation: a job already running is not slowed).

Its inputs are read and checked in ``fleet_model/simulation_inputs.py``; the command line
(``python -m fleet_model``) is ``fleet_model/command.py``. This module imports nothing
from AWS CDK, nor the plots or the cost model.
"""

import heapq
import math
import random
import sys
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from cdk.config import DeployConfig
from cdk.scaling import (
    INSTANCE_WARMUP_SECONDS,
    LOAD_METRIC_IDS,
    PERIOD_SECONDS,
    SCALE_IN_EVALUATION_PERIODS,
    SCALE_OUT_EVALUATION_PERIODS,
    ScalingSteps,
    load_expression,
    next_capacity,
)
from fleet_model.metric_math import compile_expression
from fleet_model.simulation_inputs import (
    InstanceType,
    Scenario,
    ServiceTimes,
    SimulationInputError,
    instance_type,
)

# After the last arrival the run goes on until the queue is empty, at most this long.
MAX_DRAIN_SECONDS = 3 * 3600
# Burstable (T) types' credit modes; a bank holds at most a day of baseline earnings.
CREDIT_MODES = ("unlimited", "standard")
MAX_BANKED_HOURS = 24.0


@dataclass(frozen=True)
class TargetTracking:
    """Target tracking on jobs per in-service worker (an alternative to the steps)."""

    target: float


@dataclass(frozen=True)
class Fleet:
    """Everything about the fleet and its scaling that the simulation reads."""

    steps: ScalingSteps
    fleet_min: int
    fleet_max: int
    instance: InstanceType
    threads: int
    warmup_s: float = INSTANCE_WARMUP_SECONDS
    # From the launch request to InService, then to the worker consuming: boot, settings
    # fetch, worker start. Assumed, not measured (no AWS here); docs/scaling.md says so.
    launch_s: float = 45
    boot_s: float = 60
    # How late a one-minute SQS datapoint reaches the alarm (assumed).
    metric_delay_s: float = 60
    grace_s: float = 30
    # Each worker has one receive loop: it asks for as many messages as it has idle
    # threads (at most ``receive_batch``), and a thread freed meanwhile waits for the next
    # receive. With a backlog the receive returns at once but still costs its round trip
    # (``receive_s``); a long poll waiting on an empty queue returns ``pickup_s`` after a
    # message is sent. Assumed on AWS (same-region round trips); measured in calibration.
    receive_s: float = 0.02
    pickup_s: float = 0.02
    receive_batch: int = 10
    # Per job: the S3/SQS round trips the local backends lack.
    overhead_s: float = 0.08
    target_tracking: TargetTracking | None = None
    # No scaling at all: the fleet stays at fleet_min.
    fixed: bool = False
    # Instances on-demand; those above are Spot (None: every instance on-demand).
    on_demand_base: int | None = None
    # Spot interruptions per Spot instance-hour, and the notice they give.
    interruptions_per_hour: float = 0.0
    notice_s: float = 120.0
    # Burstable types: "unlimited" (surplus billed) or "standard" (throttled to baseline).
    credit_mode: str = "unlimited"
    # Hours of baseline earnings banked by the instances present at the start.
    initial_credit_hours: float = 0.0

    def __post_init__(self) -> None:
        if not 0 <= self.fleet_min <= self.fleet_max or self.fleet_max < 1:
            raise SimulationInputError(
                f"fleet-min {self.fleet_min}, fleet-max {self.fleet_max}: "
                "need 0 <= min <= max and max >= 1"
            )
        if self.threads < 1 or self.receive_batch < 1:
            raise SimulationInputError("threads and receive batch: at least one each")
        if self.on_demand_base is not None and self.instance.spot_hourly is None:
            raise SimulationInputError(f"{self.instance.name}: no Spot price in the table")
        if self.interruptions_per_hour < 0:
            raise SimulationInputError("interruptions per hour: zero or more")
        if self.credit_mode not in CREDIT_MODES:
            raise SimulationInputError(f"credit mode {self.credit_mode!r}: one of {CREDIT_MODES}")
        if not 0 <= self.initial_credit_hours <= MAX_BANKED_HOURS:
            raise SimulationInputError(f"initial credit hours: 0 to {MAX_BANKED_HOURS}")


# Spot interruptions per Spot instance-hour in the standard runs: about one a day per
# instance, far above the lowest band of AWS's Spot Instance Advisor (under 5 % a month).
DEFAULT_INTERRUPTIONS_PER_HOUR = 0.05


def default_fleet(instance: InstanceType | None = None, steps: ScalingSteps | None = None) -> Fleet:
    """The fleet as the CDK app deploys it by default (``cdk/config.py``): Spot above the
    on-demand base when the type has a Spot price, interrupted at the standard rate."""
    config = DeployConfig()
    chosen = instance or instance_type(config.worker_instance_type)
    spot = chosen.spot_hourly is not None
    return Fleet(
        steps=steps or config.scaling_steps,
        fleet_min=config.fleet_min,
        fleet_max=config.fleet_max,
        instance=chosen,
        # The worker's default: one thread more than the instance has vCPUs.
        threads=chosen.vcpus + 1,
        on_demand_base=config.worker_on_demand_base if spot else None,
        interruptions_per_hour=DEFAULT_INTERRUPTIONS_PER_HOUR if spot else 0.0,
    )


@dataclass(frozen=True)
class Decision:
    """One scaling policy action: the metric values it saw and the capacity it asked for."""

    time: float
    policy: str
    visible: float
    in_flight: float
    in_service: float
    load: float
    current: int
    desired_before: int
    desired_after: int


@dataclass
class _Instance:
    launched: float
    in_service_at: float
    serving_at: float
    warmed_at: float
    busy: dict[int, float] = field(default_factory=dict)
    # Idle threads, and whether the receive loop is in a receive that found messages.
    idle: int = 0
    receiving: bool = False
    draining: bool = False
    gone_at: float | None = None
    cpu_seconds: float = 0.0
    last_change: float = 0.0
    spot: bool = False
    # CPU credits banked, vCPU-seconds; below zero: surplus owed (unlimited mode).
    credits: float = 0.0


@dataclass
class Result:
    """One run's outputs; ``summary()`` is what ``--json`` writes."""

    scenario: Scenario
    fleet: Fleet
    latencies: list[float]
    series: list[dict[str, float]]
    decisions: list[Decision]
    instance_seconds: float
    surplus_vcpu_seconds: float
    end: float
    redelivered: int
    # Instance-hours and surplus credits at their prices.
    dollars: float
    interruptions: int
    objective_s: float
    # When each instance the policy launched came into service, in launch order.
    added_in_service: list[float]

    def percentile(self, p: float) -> float:
        """The ``p``-th percentile (0..100) of 202 -> ready latency, seconds (nearest rank)."""
        if not self.latencies:
            return 0.0
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, max(0, math.ceil(p / 100 * len(ordered)) - 1))]

    @property
    def instance_hours(self) -> float:
        """Instance-hours billed."""
        return self.instance_seconds / 3600

    @property
    def objective_met(self) -> bool:
        """Whether the p99 202 -> ready latency stayed within the objective."""
        return self.percentile(99) <= self.objective_s

    def summary(self, *, with_series: bool = True) -> dict[str, Any]:
        """The outputs as JSON-ready values."""
        doc: dict[str, Any] = {
            "scenario": self.scenario.name,
            "instance_type": self.fleet.instance.name,
            "fleet_min": self.fleet.fleet_min,
            "fleet_max": self.fleet.fleet_max,
            "jobs": len(self.latencies),
            "redelivered": self.redelivered,
            "interruptions": self.interruptions,
            "latency_s": {
                "p50": self.percentile(50),
                "p95": self.percentile(95),
                "p99": self.percentile(99),
                "max": max(self.latencies, default=0.0),
            },
            "max_oldest_age_s": max((s["oldest_age_s"] for s in self.series), default=0.0),
            "max_in_service": max((s["in_service"] for s in self.series), default=0.0),
            "drained_at_s": self.end,
            "instance_hours": self.instance_hours,
            "dollars": self.dollars,
            "objective_s": self.objective_s,
            "objective_met": self.objective_met,
        }
        if with_series:
            doc["series"] = self.series
        return doc


_ARRIVAL, _DONE, _SERVING, _TICK, _DEADLINE, _RECEIVED, _INTERRUPT = range(7)


class _Simulation:
    """The event loop; ``run`` is the public way in."""

    def __init__(
        self,
        scenario: Scenario,
        fleet: Fleet,
        service: ServiceTimes,
        seed: int,
        arrivals: Sequence[float] | None,
        job_times: Sequence[float] | None,
    ) -> None:
        self.scenario = scenario
        self.fleet = fleet
        self.rng = random.Random(seed)  # noqa: S311 - a seeded model, not secrets
        self.draw = service.sampler(fleet.instance.vcpus, random.Random(seed + 1))  # noqa: S311
        self.arrivals = arrivals
        self.job_times = job_times
        self.events: list[tuple[float, int, int, int]] = []
        self.sequence = 0
        self.queue: deque[int] = deque()
        self.arrived: list[float] = []
        self.latencies: list[float] = []
        self.instances: list[_Instance] = []
        # Instances whose receive loop is free and that have idle threads -> since when,
        # in that order (the longest-waiting long poll gets the next message).
        self.polling: dict[int, float] = {}
        self.running: dict[int, tuple[int, float]] = {}  # job -> (instance, its end)
        self.datapoints: list[tuple[float, float, float, float, float]] = []
        self.series: list[dict[str, float]] = []
        self.decisions: list[Decision] = []
        self.desired = fleet.fleet_min
        self.redelivered = 0
        self.interruptions = 0
        self.expression = compile_expression(load_expression(fleet.steps))
        self.last_done = 0.0

    def push(self, time: float, kind: int, subject: int) -> None:
        self.sequence += 1
        heapq.heappush(self.events, (time, self.sequence, kind, subject))

    def run(self) -> Result:
        horizon = self.scenario.minutes * 60
        for _ in range(self.fleet.fleet_min):
            self.launch(0.0, ready=True)
        self.schedule_arrivals(horizon)
        self.push(PERIOD_SECONDS, _TICK, 0)
        now = 0.0
        while self.events:
            now, _, kind, subject = heapq.heappop(self.events)
            if kind == _TICK:
                # The datapoint at the horizon is the scenario's last: record it too.
                done = now > horizon and not self.queue and not self.running
                if done or now > horizon + MAX_DRAIN_SECONDS:
                    break
                self.tick(now)
                self.push(now + PERIOD_SECONDS, _TICK, 0)
            elif kind == _ARRIVAL:
                self.arrive(now)
            elif kind == _DONE:
                self.finish(now, subject)
            elif kind == _SERVING:
                self.serve(now, subject)
            elif kind == _RECEIVED:
                self.received(now, subject)
            elif kind == _INTERRUPT:
                self.interrupt(now, subject)
            else:
                self.deadline(now, subject)
        end = max(horizon, now) if (self.queue or self.running) else max(horizon, self.last_done)
        return self.result(end)

    def schedule_arrivals(self, horizon: float) -> None:
        if self.arrivals is not None:
            times = list(self.arrivals)
        else:
            times, t, peak = [], 0.0, self.scenario.peak
            while peak > 0:
                t += self.rng.expovariate(peak)
                if t >= horizon:
                    break
                if self.rng.random() * peak < self.scenario.rate_at(t):
                    times.append(t)
        for t in times:
            self.push(t, _ARRIVAL, 0)

    # --- jobs -----------------------------------------------------------------------

    def arrive(self, now: float) -> None:
        job = len(self.arrived)
        self.arrived.append(now)
        self.latencies.append(math.nan)
        self.queue.append(job)
        self.dispatch(now)

    def dispatch(self, now: float) -> None:
        """Hand queued jobs to the waiting receive loops: one receive each, for as many
        messages as its idle threads, the jobs starting when the receive returns."""
        while self.queue and self.polling:
            index = next(iter(self.polling))
            since = self.polling.pop(index)
            instance = self.instances[index]
            if instance.draining or instance.gone_at is not None or not instance.idle:
                continue
            self.account_cpu(instance, now)
            fleet = self.fleet
            start = now + (fleet.pickup_s if since < now else fleet.receive_s)
            for _ in range(min(instance.idle, fleet.receive_batch, len(self.queue))):
                job = self.queue.popleft()
                took = (
                    self.draw(len(instance.busy) + 1)
                    if self.job_times is None
                    else self.job_times[job]
                ) * self.throttle(instance)
                end = start + took + self.fleet.overhead_s
                instance.busy[job] = end
                instance.idle -= 1
                self.running[job] = (index, end)
                self.push(end, _DONE, job)
            instance.receiving = True
            self.push(start, _RECEIVED, index)

    def received(self, now: float, index: int) -> None:
        """A receive returned: the loop asks again if threads are idle."""
        instance = self.instances[index]
        instance.receiving = False
        self.wait_for_work(now, index)

    def wait_for_work(self, now: float, index: int) -> None:
        instance = self.instances[index]
        if instance.draining or instance.gone_at is not None or instance.receiving:
            return
        if instance.idle and index not in self.polling:
            self.polling[index] = now
            self.dispatch(now)

    def finish(self, now: float, job: int) -> None:
        held = self.running.get(job)
        if held is None or held[1] != now:
            return  # given back at a scale-in deadline; its later delivery counts
        index, _ = held
        del self.running[job]
        instance = self.instances[index]
        self.account_cpu(instance, now)
        del instance.busy[job]
        self.latencies[job] = now - self.arrived[job]
        self.last_done = now
        if instance.draining:
            if not instance.busy:
                instance.gone_at = now
        else:
            instance.idle += 1
            self.wait_for_work(now, index)

    # --- instances ------------------------------------------------------------------

    def launch(self, now: float, *, ready: bool = False) -> None:
        fleet = self.fleet
        if ready:
            instance = _Instance(now, now, now, now, last_change=now)
            if fleet.instance.baseline is not None:
                banked = fleet.initial_credit_hours * 3600
                instance.credits = fleet.instance.baseline * fleet.instance.vcpus * banked
        else:
            in_service = now + fleet.launch_s
            instance = _Instance(
                now, in_service, in_service + fleet.boot_s, in_service + fleet.warmup_s
            )
            instance.last_change = now
        base = fleet.on_demand_base
        live = len(self.live())
        instance.spot = base is not None and live >= base
        self.instances.append(instance)
        index = len(self.instances) - 1
        if instance.spot and fleet.interruptions_per_hour > 0:
            after = self.rng.expovariate(fleet.interruptions_per_hour / 3600)
            self.push(now + after, _INTERRUPT, index)
        if ready:
            instance.idle = fleet.threads
            self.polling[index] = now
        else:
            self.push(instance.serving_at, _SERVING, index)

    def serve(self, now: float, index: int) -> None:
        instance = self.instances[index]
        if instance.draining:
            return
        instance.idle = self.fleet.threads
        self.wait_for_work(now, index)

    def terminate(self, now: float, index: int, grace_s: float | None = None) -> None:
        instance = self.instances[index]
        instance.draining = True
        self.polling.pop(index, None)
        if not instance.busy or now < instance.serving_at:
            instance.gone_at = now
        else:
            self.push(now + (self.fleet.grace_s if grace_s is None else grace_s), _DEADLINE, index)

    def interrupt(self, now: float, index: int) -> None:
        """A Spot interruption notice: the worker stops at once and has the notice (less
        the worker's safety margin) to finish; the group replaces the instance."""
        instance = self.instances[index]
        if instance.draining or instance.gone_at is not None:
            return
        self.interruptions += 1
        self.terminate(now, index, grace_s=max(0.0, self.fleet.notice_s - 10))
        self.launch(now)

    def deadline(self, now: float, index: int) -> None:
        instance = self.instances[index]
        if instance.gone_at is not None:
            return
        self.account_cpu(instance, now)
        # The worker gives back what it still holds; those messages are visible again.
        for job in sorted(instance.busy, reverse=True):
            del self.running[job]
            self.queue.appendleft(job)
            self.redelivered += 1
        instance.busy.clear()
        instance.gone_at = now
        self.dispatch(now)

    def account_cpu(self, instance: _Instance, now: float) -> None:
        if now > instance.last_change:
            kind = self.fleet.instance
            elapsed = now - instance.last_change
            used = float(min(len(instance.busy), kind.vcpus))
            if kind.baseline is not None:
                earned = kind.baseline * kind.vcpus
                if self.fleet.credit_mode == "standard" and instance.credits <= 0:
                    used = min(used, earned)
                instance.credits = min(
                    instance.credits + (earned - used) * elapsed,
                    earned * MAX_BANKED_HOURS * 3600,
                )
            instance.cpu_seconds += used * elapsed
            instance.last_change = now

    def throttle(self, instance: _Instance) -> float:
        """How much longer a job starting now takes: >1 on a standard-mode burstable
        instance whose bank is empty, which runs at its baseline."""
        kind = self.fleet.instance
        if kind.baseline is None or self.fleet.credit_mode != "standard" or instance.credits > 0:
            return 1.0
        wanted = min(len(instance.busy) + 1, kind.vcpus)
        return max(1.0, wanted / (kind.baseline * kind.vcpus))

    def live(self) -> list[int]:
        return [i for i, x in enumerate(self.instances) if not x.draining and x.gone_at is None]

    def in_service(self, now: float) -> int:
        return sum(1 for i in self.live() if self.instances[i].in_service_at <= now)

    def warmed(self, now: float) -> int:
        return sum(1 for i in self.live() if self.instances[i].warmed_at <= now)

    # --- CloudWatch and Auto Scaling ------------------------------------------------

    def tick(self, now: float) -> None:
        visible = float(len(self.queue))
        in_flight = float(len(self.running))
        in_service = float(self.in_service(now))
        names = dict(zip(LOAD_METRIC_IDS, (visible, in_flight, in_service), strict=True))
        load = self.expression(names)
        self.datapoints.append((now, visible, in_flight, in_service, load))
        oldest = min(
            [self.arrived[self.queue[0]]] if self.queue else [],
            default=now,
        )
        if self.running:
            oldest = min(oldest, min(self.arrived[j] for j in self.running))
        self.series.append(
            {
                "minute": now / 60,
                "rate": self.scenario.rate_at(now - 1e-9),
                "visible": visible,
                "in_flight": in_flight,
                "in_service": in_service,
                "desired": float(self.desired),
                "oldest_age_s": now - oldest,
            }
        )
        seen = [d for d in self.datapoints if d[0] <= now - self.fleet.metric_delay_s]
        if not self.fleet.fixed:
            if self.fleet.target_tracking is not None:
                self.track(now, seen, self.fleet.target_tracking.target)
            else:
                self.step(now, seen)
        self.reconcile(now)

    def step(self, now: float, seen: list[tuple[float, float, float, float, float]]) -> None:
        fleet, steps = self.fleet, self.fleet.steps
        out = seen[-SCALE_OUT_EVALUATION_PERIODS:]
        if len(out) == SCALE_OUT_EVALUATION_PERIODS and all(
            d[4] >= steps.scale_out_threshold for d in out
        ):
            self.act(now, "scale-out", out[-1], grow=True)
            return
        back = seen[-SCALE_IN_EVALUATION_PERIODS:]
        warming = any(self.instances[i].warmed_at > now for i in self.live())
        if (
            len(back) == SCALE_IN_EVALUATION_PERIODS
            and all(d[4] <= steps.scale_in_threshold for d in back)
            and not warming
            and self.desired > fleet.fleet_min
        ):
            self.act(now, "scale-in", back[-1], grow=False)

    def act(
        self, now: float, policy: str, point: tuple[float, float, float, float, float], grow: bool
    ) -> None:
        _, visible, in_flight, in_service, load = point
        current = self.warmed(now)
        asked = next_capacity(
            self.fleet.steps, current, load, self.fleet.fleet_min, self.fleet.fleet_max
        )
        before = self.desired
        self.desired = max(before, asked) if grow else min(before, asked)
        self.decisions.append(
            Decision(now, policy, visible, in_flight, in_service, load, current, before, asked)
        )

    def track(
        self, now: float, seen: list[tuple[float, float, float, float, float]], target: float
    ) -> None:
        fleet = self.fleet
        if not seen:
            return
        _, visible, in_flight, in_service, _ = seen[-1]
        jobs = visible + in_flight
        per_worker = jobs / in_service if in_service else (math.inf if jobs else 0.0)
        wanted = min(fleet.fleet_max, max(fleet.fleet_min, math.ceil(jobs / target)))
        recent = seen[-3:]
        if len(recent) == 3 and all(_per_worker(d) > target for d in recent):
            self.desired = max(self.desired, wanted, 1 if jobs else 0)
        back = seen[-SCALE_IN_EVALUATION_PERIODS:]
        warming = any(self.instances[i].warmed_at > now for i in self.live())
        if (
            len(back) == SCALE_IN_EVALUATION_PERIODS
            and all(_per_worker(d) < 0.9 * target for d in back)
            and not warming
            and per_worker < target
        ):
            floor = 1 if jobs else 0
            self.desired = max(fleet.fleet_min, min(self.desired, max(wanted, floor)))

    def reconcile(self, now: float) -> None:
        live = self.live()
        for _ in range(self.desired - len(live)):
            self.launch(now)
        surplus = len(live) - self.desired
        if surplus > 0:
            # Not yet serving goes first (nothing lost), then AWS's choice, seen as random.
            booting = [i for i in live if self.instances[i].serving_at > now]
            serving = [i for i in live if self.instances[i].serving_at <= now]
            self.rng.shuffle(serving)
            for index in (booting + serving)[:surplus]:
                self.terminate(now, index)

    def result(self, end: float) -> Result:
        seconds = 0.0
        surplus = 0.0
        dollars = 0.0
        instance_type_ = self.fleet.instance
        for instance in self.instances:
            stop = end if instance.gone_at is None else instance.gone_at
            self.account_cpu(instance, stop)
            lifetime = max(60.0, stop - instance.launched)
            seconds += lifetime
            hourly = instance_type_.spot_hourly if instance.spot else instance_type_.hourly
            dollars += lifetime / 3600 * (hourly or 0.0)
            if self.fleet.credit_mode == "unlimited":
                # Owed at the end (AWS bills what later earnings have not paid back).
                surplus += max(0.0, -instance.credits)
        dollars += surplus / 3600 * instance_type_.surplus_credit_per_vcpu_hour
        done = [lat for lat in self.latencies if not math.isnan(lat)]
        unfinished = len(self.latencies) - len(done)
        # A job never finished counts as waiting until the end: it cannot pass.
        done += [end - self.arrived[j] for j, lat in enumerate(self.latencies) if math.isnan(lat)]
        if unfinished:
            print(f"{self.scenario.name}: {unfinished} jobs unfinished", file=sys.stderr)
        return Result(
            self.scenario,
            self.fleet,
            done,
            self.series,
            self.decisions,
            seconds,
            surplus,
            end,
            self.redelivered,
            dollars,
            self.interruptions,
            objective_s=DeployConfig().latency_objective_seconds,
            added_in_service=[i.in_service_at for i in self.instances if i.launched > 0],
        )


def _per_worker(point: tuple[float, float, float, float, float]) -> float:
    _, visible, in_flight, in_service, _ = point
    jobs = visible + in_flight
    return jobs / in_service if in_service else (math.inf if jobs else 0.0)


def simulate(
    scenario: Scenario,
    fleet: Fleet,
    service: ServiceTimes,
    *,
    seed: int = 1,
    arrivals: Sequence[float] | None = None,
    job_times: Sequence[float] | None = None,
) -> Result:
    """Run ``scenario`` against ``fleet``; deterministic for a given ``seed``.

    ``arrivals`` replaces the Poisson arrivals with given times (seconds), and
    ``job_times`` gives each of them, in arrival order, its service time instead of a
    draw from ``service``: the calibration replays a measured run this way.
    """
    return _Simulation(scenario, fleet, service, seed, arrivals, job_times).run()
