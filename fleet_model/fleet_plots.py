"""PNG plots of fleet simulations (matplotlib, from the ``simulate`` extra)."""

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display

import matplotlib.pyplot as plt

from fleet_model.fleet_simulator import Result


def plot_runs(results: Sequence[Result], labels: Sequence[str], path: Path) -> None:
    """Rate, backlog, instances and oldest job's age on shared time axes, one line per run."""
    figure, axes = plt.subplots(4, 1, sharex=True, figsize=(10, 9))
    rate, backlog, instances, age = axes
    first = results[0]
    minutes = [s["minute"] for s in first.series]
    rate.plot(minutes, [s["rate"] for s in first.series], color="black")
    rate.set_ylabel("uploads/s")
    for result, label in zip(results, labels, strict=True):
        x = [s["minute"] for s in result.series]
        backlog.plot(x, [s["visible"] + s["in_flight"] for s in result.series], label=label)
        instances.plot(x, [s["in_service"] for s in result.series], label=label)
        age.plot(x, [s["oldest_age_s"] for s in result.series], label=label)
    backlog.set_ylabel("jobs queued\n+ in flight")
    instances.set_ylabel("in service")
    age.set_ylabel("oldest job (s)")
    age.axhline(first.objective_s, color="red", linestyle=":", label="objective")
    age.set_xlabel("minute")
    instances.legend(fontsize="small", loc="upper left")
    figure.suptitle(f"{first.scenario.name}: {first.fleet.instance.name}")
    figure.tight_layout()
    figure.savefig(path, dpi=80)
    plt.close(figure)


def plot_run(result: Result, path: Path) -> None:
    """One run's figure."""
    plot_runs([result], ["this run"], path)


def plot_tradeoff(
    points: Sequence[tuple[str, float, float, int | str]],
    chosen: str,
    objective_s: float,
    path: Path,
    *,
    group_label: str = "fleetMin {}",
    x_label: str = "dollars over the screening scenarios",
) -> None:
    """Cost against worst p99, one point per candidate (``label, dollars, p99, group``),
    coloured by group (the fleet minimum by default); the chosen candidate is labelled."""
    figure, axis = plt.subplots(figsize=(8, 5))
    for key in sorted({p[3] for p in points}, key=str):
        group = [p for p in points if p[3] == key]
        axis.scatter([p[1] for p in group], [p[2] for p in group], label=group_label.format(key))
    for label, dollars, p99, _ in points:
        if label == chosen:
            axis.annotate(f"chosen: {label}", (dollars, p99), fontsize="small")
    axis.axhline(objective_s, color="red", linestyle=":", label="objective")
    axis.set_xlabel(x_label)
    axis.set_ylabel("worst p99 202 -> ready (s)")
    axis.set_yscale("log")
    axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=80)
    plt.close(figure)
