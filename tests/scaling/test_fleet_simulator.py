"""The fleet simulator's properties, on service times set by hand so the figures are known."""

import math
from dataclasses import replace

import pytest

from cdk.scaling import (
    DEFAULT_STEPS,
    PERIOD_SECONDS,
    SCALE_OUT_EVALUATION_PERIODS,
    load_expression,
    next_capacity,
    steps_from_json,
)
from fleet_model.fleet_simulator import Fleet, default_fleet, simulate
from fleet_model.metric_math import evaluate
from fleet_model.simulation_inputs import InstanceType, Scenario, ServiceTimes
from support.fresh_interpreter import modules_loaded_by

JOB_S = 1.0
# Not burstable, so the cost is the instance-hours alone.
STEADY_TYPE = InstanceType(
    "test.large", vcpus=2, hourly=0.10, baseline=None, surplus_credit_per_vcpu_hour=0.04
)
SERVICE = ServiceTimes(cores=2, by_concurrency={1: (JOB_S,), 3: (JOB_S,)})


def _fleet(**changes: object) -> Fleet:
    fleet = replace(
        default_fleet(STEADY_TYPE),
        fleet_min=1,
        fleet_max=4,
        receive_s=0.0,
        pickup_s=0.0,
        overhead_s=0.0,
    )
    return replace(fleet, **changes)  # type: ignore[arg-type]


def _capacity_per_instance(fleet: Fleet) -> float:
    return fleet.threads / JOB_S


def test_no_arrivals_keep_the_minimum_fleet_at_exactly_its_cost() -> None:
    fleet = _fleet(fleet_min=2)
    result = simulate(Scenario("idle", 120, ((0, 0.0),)), fleet, SERVICE)
    assert result.latencies == []
    assert {s["in_service"] for s in result.series} == {2.0}
    assert {s["desired"] for s in result.series} == {2.0}
    assert result.instance_hours == pytest.approx(2 * 2.0)
    assert result.dollars == pytest.approx(2 * 2.0 * STEADY_TYPE.hourly)


def test_a_rate_beyond_the_maximum_reaches_it_and_the_backlog_grows_at_the_excess() -> None:
    fleet = _fleet(fleet_max=3)
    capacity = fleet.fleet_max * _capacity_per_instance(fleet)
    rate = capacity + 4
    result = simulate(Scenario("flood", 24, ((0, rate),)), fleet, SERVICE)
    in_service = [s["in_service"] for s in result.series if s["minute"] <= 24]
    assert max(in_service) == fleet.fleet_max
    assert all(n <= fleet.fleet_max for n in in_service)
    # Once the whole fleet serves, the backlog grows at rate - capacity (Poisson noise aside).
    late = [s for s in result.series if 12 <= s["minute"] <= 24]
    growth = (late[-1]["visible"] - late[0]["visible"]) / (
        (late[-1]["minute"] - late[0]["minute"]) * 60
    )
    assert growth == pytest.approx(rate - capacity, rel=0.1)


def test_raising_the_fleet_maximum_never_makes_a_burst_worse() -> None:
    burst = Scenario("burst", 30, ((0, 1.0), (5, 1.0), (5.01, 12.0), (15, 12.0), (15.01, 1.0)))
    p95 = [simulate(burst, _fleet(fleet_max=n), SERVICE).percentile(95) for n in (1, 2, 4, 8)]
    assert p95 == sorted(p95, reverse=True)
    assert p95[0] > p95[-1]


def test_the_policy_decides_as_next_capacity_on_the_alarm_s_expression() -> None:
    burst = Scenario("burst", 45, ((0, 1.0), (5, 1.0), (5.01, 12.0), (15, 12.0), (15.01, 0.1)))
    fleet = _fleet(fleet_max=8)
    result = simulate(burst, fleet, SERVICE)
    policies = {d.policy for d in result.decisions}
    assert policies == {"scale-out", "scale-in"}
    expression = load_expression(fleet.steps)
    for d in result.decisions:
        metrics = {"visible": d.visible, "in_flight": d.in_flight, "in_service": d.in_service}
        assert d.load == evaluate(expression, metrics)
        assert d.desired_after == next_capacity(
            fleet.steps, d.current, d.load, fleet.fleet_min, fleet.fleet_max
        )


def test_deterministic_under_a_seed() -> None:
    scenario = Scenario("steady", 10, ((0, 2.0),))
    first, again = (simulate(scenario, _fleet(), SERVICE, seed=7) for _ in range(2))
    other = simulate(scenario, _fleet(), SERVICE, seed=8)
    assert first.summary() == again.summary()
    assert first.latencies != other.latencies


def test_the_first_added_instance_serves_when_the_alarm_metric_and_launch_allow() -> None:
    fleet = _fleet()
    result = simulate(Scenario("jump", 6, ((0, 20.0),)), fleet, SERVICE)
    # Computed apart from the simulator: the period ending at each minute breaches; the
    # alarm sees a datapoint metric_delay_s after its period ends and acts once it has
    # SCALE_OUT_EVALUATION_PERIODS of them, at the next one-minute evaluation.
    seen_all = SCALE_OUT_EVALUATION_PERIODS * PERIOD_SECONDS + fleet.metric_delay_s
    acted = math.ceil(seen_all / PERIOD_SECONDS) * PERIOD_SECONDS
    assert result.added_in_service[0] == acted + fleet.launch_s


def test_an_empty_fleet_wakes_for_one_job_and_drains_back_to_zero() -> None:
    fleet = _fleet(fleet_min=0)
    arrivals = [30.0]
    result = simulate(Scenario("night", 60, ((0, 0.0),)), fleet, SERVICE, arrivals=arrivals)
    assert len(result.latencies) == 1
    assert result.latencies[0] < 10 * 60
    in_service = [s["in_service"] for s in result.series]
    assert max(in_service) == 1
    assert in_service[-1] == 0  # back to nothing once the job was done and the lull held


def test_a_worker_scaled_in_mid_job_gives_it_back_for_redelivery() -> None:
    # The first job runs 2000 s, the second 300 s; two jobs on one worker breach a 1.5
    # threshold, a second worker joins, and once the short job is done half a job per
    # worker lets scale-in pick one of the two: when it picks the busy one, the job
    # comes back after the grace period and starts over on the other.
    times = ServiceTimes(cores=2, by_concurrency={1: (2000.0,), 2: (300.0,), 3: (300.0,)})
    steps = steps_from_json('{"scaleOut": [[1.5, null, 50]], "scaleIn": [[null, 0.5, -50]]}')
    fleet = _fleet(fleet_min=1, fleet_max=2, steps=steps, grace_s=30)
    night = Scenario("slow", 60, ((0, 0.0),))
    runs = [simulate(night, fleet, times, seed=seed, arrivals=[1.0, 2.0]) for seed in range(1, 9)]
    scaled_in = [r for r in runs if any(d.policy == "scale-in" for d in r.decisions)]
    assert len(scaled_in) == len(runs)
    redelivered = [r for r in runs if r.redelivered]
    kept = [r for r in runs if not r.redelivered]
    assert redelivered
    assert kept
    for run in redelivered:
        (scale_in,) = [d.time for d in run.decisions if d.policy == "scale-in"]
        assert run.redelivered == 1
        assert run.latencies[0] == pytest.approx(scale_in + fleet.grace_s + 2000.0 - 1.0, abs=1)
    for run in kept:
        assert run.latencies[0] == pytest.approx(2000.0, abs=1)


def test_default_policy_is_the_cdk_table() -> None:
    assert default_fleet().steps == DEFAULT_STEPS


def test_a_replayed_run_gives_each_job_its_own_measured_time() -> None:
    fleet = _fleet(fleet_min=1, fleet_max=1, fixed=True)
    quiet = Scenario("replay", 2, ((0, 0.0),))
    # Three threads: the fourth job waits for the first thread to free (at 1 + 5 s).
    arrivals = [1.0, 1.1, 1.2, 1.3]
    times = [5.0, 7.0, 9.0, 2.0]
    result = simulate(quiet, fleet, SERVICE, arrivals=arrivals, job_times=times)
    assert result.latencies == pytest.approx([5.0, 7.0, 9.0, 5.0 - 0.3 + 2.0])


def test_the_command_imports_nothing_from_aws_cdk_and_plots_only_when_asked() -> None:
    # The simulator never imports its plots (they import its results): matplotlib stays out.
    loaded = modules_loaded_by("fleet_model.command") | modules_loaded_by("fleet_model.metric_math")
    assert {"fleet_model.command", "fleet_model.fleet_simulator"} <= loaded
    assert {name.split(".")[0] for name in loaded} & {
        "aws_cdk",
        "constructs",
        "matplotlib",
    } == set()
    assert "fleet_model.fleet_plots" not in loaded


def test_a_backlog_pays_one_receive_per_freed_thread_not_a_wait_per_job() -> None:
    # 30 jobs at once on one instance of 3 threads: ten rounds, each a receive then a job;
    # the one receive loop staggers the threads by a receive or two.
    fleet = _fleet(fleet_min=1, fleet_max=1, fixed=True, receive_s=0.01, pickup_s=0.5)
    arrivals = [0.0] * 30
    result = simulate(
        Scenario("backlog", 1, ((0, 0.0),)), fleet, SERVICE, arrivals=arrivals, job_times=[1.0] * 30
    )
    assert max(result.latencies) == pytest.approx(10 * (1.0 + 0.01), abs=0.03)


def test_an_idle_worker_starts_a_job_its_pickup_time_after_the_send() -> None:
    fleet = _fleet(fleet_min=1, fleet_max=1, fixed=True, receive_s=0.01, pickup_s=0.05)
    result = simulate(
        Scenario("one", 1, ((0, 0.0),)), fleet, SERVICE, arrivals=[5.0], job_times=[1.0]
    )
    assert result.latencies == [pytest.approx(1.05)]


def test_spot_above_the_base_costs_the_spot_price_and_interruptions_lose_no_job() -> None:
    spot_type = replace(STEADY_TYPE, spot_hourly=0.03)
    fleet = _fleet(instance=spot_type, fleet_min=3, fleet_max=3, fixed=True, on_demand_base=1)
    idle = simulate(Scenario("idle", 120, ((0, 0.0),)), fleet, SERVICE)
    assert idle.dollars == pytest.approx(2 * (0.10 + 2 * 0.03))
    stormy = replace(fleet, interruptions_per_hour=2.0)
    result = simulate(Scenario("steady", 120, ((0, 2.0),)), stormy, SERVICE)
    assert result.interruptions > 0
    assert all(not math.isnan(latency) for latency in result.latencies)
    # Jobs of a second finish within the notice: none waits for a redelivery.
    assert result.redelivered == 0
    assert result.percentile(99) < 5 * JOB_S


# Burstable: 2 vCPUs at a 20 % baseline, so it earns 0.4 vCPU-seconds per second.
BURSTABLE_TYPE = InstanceType(
    "test.burst", vcpus=2, hourly=0.10, baseline=0.2, surplus_credit_per_vcpu_hour=0.04
)
# 1.5 jobs a second of one CPU-second each: 1.5 vCPUs busy, 1.1 above the baseline.
FLAT_OUT = Scenario("flat out", 10, ((0, 1.5),))


def test_unlimited_credits_bill_the_cpu_beyond_the_bank_and_a_bank_covers_it() -> None:
    fleet = _fleet(instance=BURSTABLE_TYPE, threads=2, fixed=True)
    cold = simulate(FLAT_OUT, fleet, SERVICE)
    # About 1.1 vCPU-seconds a second beyond the earnings, for the ten minutes.
    assert cold.surplus_vcpu_seconds == pytest.approx(1.1 * 600, rel=0.1)
    assert cold.dollars > cold.instance_hours * BURSTABLE_TYPE.hourly
    warm = simulate(FLAT_OUT, replace(fleet, initial_credit_hours=24), SERVICE)
    assert warm.surplus_vcpu_seconds == 0
    assert warm.percentile(99) == pytest.approx(cold.percentile(99))


def test_standard_credits_bill_nothing_and_an_empty_bank_runs_at_the_baseline() -> None:
    fleet = _fleet(instance=BURSTABLE_TYPE, threads=2, fixed=True, credit_mode="standard")
    cold = simulate(FLAT_OUT, fleet, SERVICE)
    assert cold.surplus_vcpu_seconds == 0
    assert cold.dollars == pytest.approx(cold.instance_hours * BURSTABLE_TYPE.hourly)
    # Throttled to 0.4 of 2 vCPUs, the instance falls behind and the backlog grows.
    assert cold.percentile(99) > 60
    # With a day's bank (far more than ten minutes need) nothing is throttled.
    warm = simulate(FLAT_OUT, replace(fleet, initial_credit_hours=24), SERVICE)
    unlimited = simulate(FLAT_OUT, replace(fleet, credit_mode="unlimited"), SERVICE)
    assert warm.latencies == unlimited.latencies
