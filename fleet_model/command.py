"""The fleet model's command line: one scenario against one fleet, or the cost model.

The calibration (and, for ``--cost``, the request counts) are files the caller names:
``make simulate`` and the docs give the measured ones in ``bench/results/``.
``python -m fleet_model --help`` lists the options (docs/scaling.md, docs/cost.md).
"""

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from cdk.config import DeployConfig
from cdk.scaling import ScalingStepsError, steps_from_json
from fleet_model.cost_model import (
    SERVICE_PRICES_FILE,
    Compute,
    CostInputError,
    Traffic,
    load_json,
    median_job_seconds,
    on_the_fly_per_million,
    per_million,
    server_dollars_per_hour,
    table,
)
from fleet_model.fleet_simulator import CREDIT_MODES, Result, default_fleet, simulate
from fleet_model.simulation_inputs import (
    Scenario,
    SimulationInputError,
    instance_type,
    load_service_times,
    scenario_from_json,
)


def main(argv: Sequence[str] | None = None) -> int:
    """The command line: one scenario, one fleet; exits 2 on bad input."""
    parser = argparse.ArgumentParser(
        prog="python -m fleet_model",
        description="Simulate the worker fleet on one traffic scenario (docs/scaling.md).",
    )
    parser.add_argument("--scenario", type=Path, help="scenario JSON file")
    parser.add_argument("--steps", help='scaling table JSON, as the "scalingSteps" context')
    parser.add_argument("--fleet-min", type=int)
    parser.add_argument("--fleet-max", type=int)
    parser.add_argument("--instance-type", default=DeployConfig().worker_instance_type)
    parser.add_argument("--threads", type=int, help="worker threads (default vCPUs + 1)")
    parser.add_argument(
        "--calibration",
        type=Path,
        required=True,
        help="service times measured on the real worker (make simulate writes them)",
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", type=Path, help="write the summary and time series here")
    parser.add_argument("--plot", type=Path, help="write a PNG of the run here (matplotlib)")
    parser.add_argument(
        "--on-demand-base", type=int, help="on-demand instances; Spot above (default: config)"
    )
    parser.add_argument("--interruptions-per-hour", type=float, help="per Spot instance-hour")
    parser.add_argument(
        "--credit-mode", choices=CREDIT_MODES, help="burstable types (default unlimited)"
    )
    parser.add_argument(
        "--initial-credit-hours",
        type=float,
        help="hours of baseline earnings banked by the instances present at the start",
    )
    costs = parser.add_argument_group("cost model (docs/cost.md)")
    costs.add_argument("--cost", action="store_true", help="dollars per million uploads")
    costs.add_argument("--rate", type=float, default=2.0, help="steady uploads per second")
    costs.add_argument("--views", type=float, default=10.0, help="views per image")
    costs.add_argument("--cache-hit", type=float, default=0.9, help="CloudFront hit ratio")
    costs.add_argument("--deleted", type=float, default=0.0, help="share of images deleted")
    costs.add_argument(
        "--request-counts",
        type=Path,
        help="S3 and SQS requests per step, counted by bench/request_counts.py (with --cost)",
    )
    options = parser.parse_args(argv)
    if options.scenario is None and not options.cost:
        parser.error("one of --scenario or --cost is required")
    if options.cost and options.request_counts is None:
        parser.error("--cost needs --request-counts")
    try:
        scenario = (
            Scenario("steady", 60, ((0.0, options.rate),))
            if options.scenario is None
            else scenario_from_json(json.loads(options.scenario.read_text()))
        )
        steps = steps_from_json(options.steps) if options.steps else None
        base = default_fleet(instance_type(options.instance_type), steps)
        fleet = replace(
            base,
            fleet_min=base.fleet_min if options.fleet_min is None else options.fleet_min,
            fleet_max=base.fleet_max if options.fleet_max is None else options.fleet_max,
            threads=options.threads or base.threads,
        )
        if options.on_demand_base is not None:
            fleet = replace(fleet, on_demand_base=options.on_demand_base)
        if options.interruptions_per_hour is not None:
            fleet = replace(fleet, interruptions_per_hour=options.interruptions_per_hour)
        if options.credit_mode is not None:
            fleet = replace(fleet, credit_mode=options.credit_mode)
        if options.initial_credit_hours is not None:
            fleet = replace(fleet, initial_credit_hours=options.initial_credit_hours)
        service = load_service_times(options.calibration)
    except (OSError, json.JSONDecodeError, SimulationInputError, ScalingStepsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    result = simulate(scenario, fleet, service, seed=options.seed)
    if options.cost:
        return _print_cost(options, result)
    summary = result.summary()
    if options.json:
        options.json.write_text(json.dumps(summary, indent=1))
    if options.plot:
        from fleet_model.fleet_plots import plot_run  # matplotlib only when a plot is asked for

        plot_run(result, options.plot)
    print(json.dumps(result.summary(with_series=False), indent=1))
    return 0


def _print_cost(options: argparse.Namespace, result: Result) -> int:
    config = DeployConfig()
    try:
        counts = load_json(options.request_counts)
        prices = load_json(SERVICE_PRICES_FILE)
        calibration = load_json(options.calibration)
        traffic = Traffic(options.rate, options.views, options.cache_hit, options.deleted)
        jobs = max(1, len(result.latencies))
        compute = Compute(
            worker_dollars_per_upload=result.dollars / jobs,
            worker_hours_per_upload=result.instance_hours / jobs,
            server_dollars_per_hour=server_dollars_per_hour(
                config, instance_type(config.server_instance_type).hourly
            ),
            job_seconds=median_job_seconds(calibration),
        )
        ours = per_million(traffic, compute, counts, prices)
        on_the_fly = on_the_fly_per_million(traffic, compute, counts, prices)
    except (CostInputError, KeyError, SimulationInputError) as exc:
        print(f"error: cost model input: {exc!r}", file=sys.stderr)
        return 2
    fleet = result.fleet
    print(
        f"{options.rate:g} uploads/s steady, {options.views:g} views per image, "
        f"{options.cache_hit:.0%} CloudFront hits; workers {fleet.instance.name}, "
        f"on-demand base {fleet.on_demand_base}; p99 202 -> ready "
        f"{result.percentile(99):.2f} s\n"
    )
    print("| this design, $ per million uploads | $ |\n|---|---|")
    print("\n".join(table(ours)))
    print("\n| on-the-fly (Lambda per cache miss), $ per million uploads | $ |\n|---|---|")
    print("\n".join(table(on_the_fly)))
    if options.json:
        options.json.write_text(json.dumps({"this_design": ours, "on_the_fly": on_the_fly}))
    return 0
