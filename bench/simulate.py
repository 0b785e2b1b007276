"""`make simulate`: the standard scenarios against the default policy and alternatives.

Reads the calibration file it is given (``bench/scaling_calibration.py`` writes it; the
Makefile's ``simulate`` target names it), runs every scenario in ``bench/scenarios/``
with the default steps and the alternatives side by side, searches a grid of step tables
and fleet bounds for the cheapest one that keeps the p99 202 -> ready latency within the
objective up to the 10x burst, and writes ``bench/results/scaling.md`` with one PNG per
scenario and the cost/p99 trade-off.

    .venv/bin/python bench/simulate.py --calibration bench/results/scaling_calibration.json
"""

import argparse
import json
from dataclasses import dataclass, replace
from pathlib import Path

from cdk.scaling import ScalingSteps, Step
from fleet_model.fleet_plots import plot_runs, plot_tradeoff
from fleet_model.fleet_simulator import (
    CREDIT_MODES,
    DEFAULT_INTERRUPTIONS_PER_HOUR,
    Fleet,
    Result,
    TargetTracking,
    default_fleet,
    simulate,
)
from fleet_model.simulation_inputs import (
    Scenario,
    ServiceTimes,
    instance_type,
    load_service_times,
    scenario_from_json,
)

REPO = Path(__file__).resolve().parent.parent
SCENARIOS = REPO / "bench" / "scenarios"
RESULTS = REPO / "bench" / "results"
REPORT = RESULTS / "scaling.md"
PLOTS = RESULTS / "scaling"
# The scenarios the defaults must hold the objective on ("up to the 10x burst").
TUNED_ON = ("steady", "burst-10x", "diurnal")
# The long diurnal day is run only for candidates that pass the two short scenarios.
SCREENED_ON = ("steady", "burst-10x")
TUNED_FLEET_MAX = 16
# Among candidates of (nearly) the same cost, the one that best rides this one wins.
TIE_BREAK = "viral-50x"
# The families compared, each on-demand and Spot (docs/scaling.md, "Instance family").
FAMILIES = (
    "t4g.small",
    "t4g.medium",
    "c6g.medium",
    "c7g.medium",
    "c8g.medium",
    "m7g.medium",
    "c6g.large",
    "c7g.large",
    "c8g.large",
    "m7g.large",
)
# The interruption rates of the Spot stress rows, per Spot instance-hour.
STRESS_INTERRUPTIONS = (0.5, 2.0)


@dataclass(frozen=True)
class Policy:
    """A named fleet configuration to compare."""

    label: str
    fleet: Fleet


def _steps(threshold: float, first: int, second: int, second_at: float) -> ScalingSteps:
    return ScalingSteps(
        scale_out=(Step(threshold, second_at, first), Step(second_at, None, second)),
        scale_in=(Step(None, 0.5, -25),),
    )


def alternatives(base: Fleet) -> list[Policy]:
    """The default policy, fixed fleets, target tracking and more aggressive steps."""
    return [
        Policy(f"default steps, fleet {base.fleet_min}-{base.fleet_max}", base),
        Policy("fixed 1", replace(base, fleet_min=1, fleet_max=1, fixed=True)),
        Policy("fixed 4", replace(base, fleet_min=4, fleet_max=4, fixed=True)),
        Policy("fixed 8", replace(base, fleet_min=8, fleet_max=8, fixed=True)),
        Policy(
            "target 10 jobs/worker",
            replace(base, fleet_max=16, target_tracking=TargetTracking(10)),
        ),
        Policy(
            "aggressive steps, max 16",
            replace(base, steps=_steps(5, 100, 300, 50), fleet_max=16),
        ),
    ]


def candidates(base: Fleet) -> list[Policy]:
    """The grid the defaults are chosen from: thresholds, step sizes, bounds, warm-up."""
    found = []
    for threshold in (5, 10, 20):
        for first, second in ((50, 100), (100, 300)):
            for fleet_min in (1, 2, 3, 4):
                for warmup in (120, 180):
                    label = f"{threshold}:+{first}/+{second}% min {fleet_min} warm-up {warmup}"
                    fleet = replace(
                        base,
                        steps=_steps(threshold, first, second, threshold * 5),
                        fleet_min=fleet_min,
                        fleet_max=TUNED_FLEET_MAX,
                        warmup_s=warmup,
                    )
                    found.append(Policy(label, fleet))
    return found


def before_fleet(base: Fleet) -> Fleet:
    """The defaults before issue 26: t4g.small, on-demand only, no interruptions."""
    return replace(
        base,
        instance=instance_type("t4g.small"),
        threads=3,
        on_demand_base=None,
        interruptions_per_hour=0.0,
    )


def dollars_per_million(result: Result) -> float:
    """Worker dollars per million uploads in one run."""
    return result.dollars / max(1, len(result.latencies)) * 1e6


def families(base: Fleet) -> list[Policy]:
    """Every family on-demand, Spot above no base, and Spot above a base of one."""
    found = []
    for name in FAMILIES:
        chosen = instance_type(name)
        sized = replace(base, instance=chosen, threads=chosen.vcpus + 1)
        found.append(
            Policy(
                f"{name} on-demand", replace(sized, on_demand_base=None, interruptions_per_hour=0)
            )
        )
        for on_demand in (0, 1):
            spot = replace(
                sized,
                on_demand_base=on_demand,
                interruptions_per_hour=DEFAULT_INTERRUPTIONS_PER_HOUR,
            )
            found.append(Policy(f"{name} Spot, on-demand base {on_demand}", spot))
    return found


def tuned_runs(fleet: Fleet, scenarios: dict[str, Scenario], service: ServiceTimes) -> list[Result]:
    """``fleet`` through each scenario of ``TUNED_ON``, in that order."""
    return [simulate(scenarios[n], fleet, service) for n in TUNED_ON]


def p99_and_dollars(runs: list[Result]) -> str:
    """Table cells: each run's p99 202 -> ready and its dollars per million uploads."""
    return " | ".join(f"{r.percentile(99):.2f} | {dollars_per_million(r):.2f}" for r in runs)


def family_table(
    base: Fleet, scenarios: dict[str, Scenario], service: ServiceTimes
) -> tuple[list[str], list[tuple[str, float, float, int | str]]]:
    """The families side by side on ``TUNED_ON`` at the default bounds and steps: rows,
    and (label, $/million over the scenarios, worst p99, purchase) for the plot."""
    rows = [
        "| fleet | " + " | ".join(f"{n} p99 s | {n} $/M" for n in TUNED_ON) + " | all $/M |",
        "|---|" + "---|---|" * len(TUNED_ON) + "---|",
    ]
    points: list[tuple[str, float, float, int | str]] = []
    for policy in [Policy("before: t4g.small on-demand", before_fleet(base)), *families(base)]:
        runs = tuned_runs(policy.fleet, scenarios, service)
        total = sum(r.dollars for r in runs) / sum(len(r.latencies) for r in runs) * 1e6
        rows.append(f"| {policy.label} | {p99_and_dollars(runs)} | {total:.2f} |")
        purchase = "on-demand" if policy.fleet.on_demand_base is None else "Spot"
        points.append((policy.label, total, max(r.percentile(99) for r in runs), purchase))
    return rows, points


def stress_rows(base: Fleet, scenarios: dict[str, Scenario], service: ServiceTimes) -> list[str]:
    """The defaults under heavier Spot interruption rates, on-demand base 0 and 1."""
    rows = [
        "| interruptions per Spot instance-hour | on-demand base | "
        + " | ".join(f"{n} p99 s" for n in TUNED_ON)
        + " | redelivered |",
        "|---|---|" + "---|" * len(TUNED_ON) + "---|",
    ]
    for rate in (DEFAULT_INTERRUPTIONS_PER_HOUR, *STRESS_INTERRUPTIONS):
        for on_demand in (0, 1):
            fleet = replace(base, on_demand_base=on_demand, interruptions_per_hour=rate)
            runs = tuned_runs(fleet, scenarios, service)
            cells = " | ".join(f"{r.percentile(99):.2f}" for r in runs)
            rows.append(f"| {rate} | {on_demand} | {cells} | {sum(r.redelivered for r in runs)} |")
    return rows


# Banks of CPU credits compared for the burstable default (hours of baseline earnings
# held by the instances present at a scenario's start; 0 is a fleet just deployed).
CREDIT_BANKS = (0.0, 0.5, 1.0, 24.0)


def credit_rows(base: Fleet, scenarios: dict[str, Scenario], service: ServiceTimes) -> list[str]:
    """The default type in both credit modes, from a cold fleet to one with a day's bank."""
    rows = [
        "| credit mode | banked hours at the start | "
        + " | ".join(f"{n} p99 s | {n} $/M" for n in TUNED_ON)
        + " | surplus vCPU-h |",
        "|---|---|" + "---|---|" * len(TUNED_ON) + "---|",
    ]
    for mode in CREDIT_MODES:
        for bank in CREDIT_BANKS:
            fleet = replace(base, credit_mode=mode, initial_credit_hours=bank)
            runs = tuned_runs(fleet, scenarios, service)
            surplus = sum(r.surplus_vcpu_seconds for r in runs) / 3600
            rows.append(f"| {mode} | {bank:g} | {p99_and_dollars(runs)} | {surplus:.2f} |")
    return rows


def load_scenarios() -> dict[str, Scenario]:
    """The standard scenarios, by name."""
    loaded = [
        scenario_from_json(json.loads(p.read_text())) for p in sorted(SCENARIOS.glob("*.json"))
    ]
    return {s.name: s for s in loaded}


def _row(label: str, result: Result) -> str:
    s = result.summary(with_series=False)
    lat = s["latency_s"]
    return (
        f"| {label} | {lat['p50']:.1f} | {lat['p95']:.1f} | {lat['p99']:.1f} | {lat['max']:.0f} "
        f"| {s['max_oldest_age_s']:.0f} | {s['max_in_service']:.0f} | {s['instance_hours']:.1f} "
        f"| {s['dollars']:.2f} | {'yes' if s['objective_met'] else 'no'} |"
    )


HEADER = (
    "| policy | p50 s | p95 s | p99 s | max s | oldest age s | max in service "
    "| instance-h | $ | p99 within objective |\n|---|---|---|---|---|---|---|---|---|---|"
)


@dataclass(frozen=True)
class Tuning:
    """The chosen policy, every candidate's (label, dollars, worst p99, fleet min) on the
    short scenarios, and the best p99 of the burst from a one-instance minimum."""

    chosen: Policy
    points: list[tuple[str, float, float, int]]
    best_burst_p99_from_one: float


def tune(base: Fleet, scenarios: dict[str, Scenario], service: ServiceTimes) -> Tuning:
    """The candidate with the fewest dollars meeting the objective on ``TUNED_ON``."""
    points = []
    passing: list[tuple[float, Policy]] = []
    from_one = []
    for policy in candidates(base):
        runs = [simulate(scenarios[name], policy.fleet, service) for name in SCREENED_ON]
        dollars = sum(r.dollars for r in runs)
        points.append(
            (policy.label, dollars, max(r.percentile(99) for r in runs), policy.fleet.fleet_min)
        )
        if policy.fleet.fleet_min == 1:
            from_one.append(runs[1].percentile(99))
        if all(r.objective_met for r in runs):
            passing.append((dollars, policy))
    rest = [n for n in TUNED_ON if n not in SCREENED_ON]
    passing.sort(key=lambda item: item[0])
    while passing:
        hours = passing[0][0]
        tied = [policy for h, policy in passing if h <= hours * 1.01]
        passing = [(h, policy) for h, policy in passing if h > hours * 1.01]
        ranked = sorted(
            tied, key=lambda p: simulate(scenarios[TIE_BREAK], p.fleet, service).percentile(99)
        )
        for policy in ranked:
            if all(simulate(scenarios[n], policy.fleet, service).objective_met for n in rest):
                return Tuning(policy, points, min(from_one))
    raise SystemExit("no candidate meets the objective; widen the grid")


def calibration_table(path: Path) -> list[str]:
    """The validation runs stored in a calibration file, as a table and its service times."""
    doc = json.loads(path.read_text())
    rows = [
        "| workers x threads | rate/s | uploads | measured p50 / p95 / drain s "
        "| predicted p50 / p95 / drain s | ratio p50 | ratio p95 | ratio drain "
        "| ratios with the file's service times |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for run in doc.get("validation", []):
        m, p, r = run["measured_s"], run["predicted_s"], run["ratio"]
        rows.append(
            f"| {run['workers']} x {run['threads_each']} | {run['rate_per_s']:.1f} "
            f"| {run['uploads']} "
            f"| {m['p50']:.2f} / {m['p95']:.2f} / {m['drain']:.1f} "
            f"| {p['p50']:.2f} / {p['p95']:.2f} / {p['drain']:.1f} "
            f"| {r['p50']:.2f} | {r['p95']:.2f} | {r['drain']:.2f} "
            f"| {' / '.join(f'{v:.2f}' for v in run['ratio_from_file'].values())} |"
        )
    medians = ", ".join(f"{k}: {sorted(v)[len(v) // 2]:.0f}" for k, v in doc["service_ms"].items())
    rows += [
        "",
        f"`{path.name}`: service times measured {doc['measured']} on {doc['machine']}; "
        f"medians (ms) by jobs running at once: {medians}.",
    ]
    return rows


def main() -> None:
    """Run everything and write the report and plots."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--calibration", type=Path, required=True, help="bench/scaling_calibration.py's output"
    )
    calibration = parser.parse_args().calibration
    service = load_service_times(calibration)
    scenarios = load_scenarios()
    base = default_fleet()
    PLOTS.mkdir(parents=True, exist_ok=True)
    tuning = tune(base, scenarios, service)
    tuned = tuning.chosen
    policies = [*alternatives(base), Policy(f"tuned ({tuned.label})", tuned.fleet)]
    lines = [
        "# Scaling simulation: the standard scenarios",
        "",
        "Written by `make simulate` (`bench/simulate.py`, model in "
        "`fleet_model/fleet_simulator.py`, "
        "method and assumptions in [docs/scaling.md](../../docs/scaling.md)). Latency is "
        "202 -> ready, in seconds; the objective is the stack's `latencyObjectiveSeconds` "
        f"({base.instance.name}, {base.threads} worker threads, prices of "
        "`fleet_model/instance_prices.json`). Seed 1.",
        "",
        "## Calibration: the simulator against real processes on this machine",
        "",
        "Predicted replays each upload's measured arrival and its job's logged time; the last",
        "column draws service times from the calibration file instead (measured minutes",
        "earlier on this shared machine, whose speed varies with what else runs, and with",
        "nothing else running, while the server and load generator share the cores during",
        "a burst). Rates are 0.4, 0.7 and 1.0 of one worker's throughput, each repeated.",
        "",
        *calibration_table(calibration),
        "",
    ]
    for name, scenario in scenarios.items():
        night = name == "quiet-night"
        runs = []
        for policy in policies:
            fleet = (
                replace(policy.fleet, fleet_min=0)
                if night and not policy.fleet.fixed
                else policy.fleet
            )
            runs.append((policy.label, simulate(scenario, fleet, service)))
        lines += [f"## {name}", "", f"![{name}](scaling/{name}.png)", "", HEADER]
        lines += [_row(label, result) for label, result in runs]
        if night:
            lines += ["", "Scaling policies run with `fleetMin=0` here."]
        lines.append("")
        plot_runs([r for _, r in runs], [label for label, _ in runs], PLOTS / f"{name}.png")
        print(f"{name}: done")
    objective = simulate(scenarios["steady"], base, service).objective_s
    plot_tradeoff(tuning.points, tuned.label, objective, PLOTS / "tradeoff.png")
    table, points = family_table(base, scenarios, service)
    plot_tradeoff(
        points,
        f"{base.instance.name} Spot, on-demand base {base.on_demand_base}",
        objective,
        PLOTS / "families.png",
        group_label="{}",
        x_label="worker dollars per million uploads over " + ", ".join(TUNED_ON),
    )
    lines += [
        "## Instance family and Spot: cost against p99",
        "",
        f"Default steps and bounds ({base.fleet_min}-{base.fleet_max}); Spot rows interrupted "
        f"at {DEFAULT_INTERRUPTIONS_PER_HOUR} per Spot instance-hour; $/M is worker dollars "
        "per million uploads (instance-hours and surplus CPU credits; prices and their "
        "sources in `fleet_model/instance_prices.json`: every Spot price and most on-demand ones "
        "are marked UNSOURCED there). Burstable types start cold (no banked credits); the "
        "credit table below shows what a bank changes.",
        "",
        "![families](scaling/families.png)",
        "",
        *table,
        "",
        f"CPU credits of the default type ({base.instance.name}, Spot, on-demand base "
        f"{base.on_demand_base}): in unlimited mode CPU beyond the bank is billed as surplus "
        "credits (the same price on Spot); in standard mode it is not, and an instance "
        "whose bank is empty runs at its baseline. A scenario starts with the fleet's "
        "minimum in service holding the bank shown; instances launched later start with "
        "none (no launch credits in the model).",
        "",
        *credit_rows(base, scenarios, service),
        "",
        "The defaults under heavier interruption rates:",
        "",
        *stress_rows(base, scenarios, service),
        "",
    ]
    lines += [
        "## Trade-off: cost against p99 over the tuning scenarios",
        "",
        f"Every candidate (fleet max {TUNED_FLEET_MAX}) over {', '.join(SCREENED_ON)}: "
        "dollars summed, worst p99.",
        "",
        "![trade-off](scaling/tradeoff.png)",
        "",
        "Chosen (fewest dollars with p99 within the objective on "
        f"{', '.join(TUNED_ON)}; among those within 1 % of that cost, the lowest p99 on "
        f"{TIE_BREAK}): **{tuned.label}**, fleet max {tuned.fleet.fleet_max}.",
        "",
        "From a one-instance minimum no candidate holds the objective through the 10x "
        f"burst: the best p99 there is {tuning.best_burst_p99_from_one:.0f} s, because the "
        "first added instance serves only minutes after the burst starts (alarm periods, "
        "metric delay, launch and boot) while the backlog grows at the excess rate.",
        "",
    ]
    REPORT.write_text("\n".join(lines))
    print(f"wrote {REPORT.relative_to(REPO)}")


if __name__ == "__main__":
    main()
