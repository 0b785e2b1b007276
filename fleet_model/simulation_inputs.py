"""What a fleet simulation is given: the traffic scenario, the instance type from the dated
price table, and the service times measured on the real worker.

Each is read and checked here, so a bad file or option fails with a ``SimulationInputError``
naming it before any run. The calibration file's path is the caller's to give
(``make simulate`` names the one it writes); the price table is this package's own
``instance_prices.json``.
"""

import itertools
import json
import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PRICES_FILE = Path(__file__).resolve().parent / "instance_prices.json"


class SimulationInputError(ValueError):
    """A scenario, calibration or option the simulator cannot run; the message says which."""


@dataclass(frozen=True)
class Scenario:
    """Upload rate over time: ``rate`` is ``((minute, uploads_per_second), ...)``, linear
    between points and flat after the last one."""

    name: str
    minutes: float
    rate: tuple[tuple[float, float], ...]

    def __post_init__(self) -> None:
        if self.minutes <= 0:
            raise SimulationInputError(f"scenario {self.name!r}: minutes must be positive")
        if not self.rate:
            raise SimulationInputError(f"scenario {self.name!r}: rate needs at least one point")
        minutes = [m for m, _ in self.rate]
        if minutes != sorted(minutes) or minutes[0] != 0:
            raise SimulationInputError(
                f"scenario {self.name!r}: rate points must start at minute 0, in order"
            )
        if any(r < 0 for _, r in self.rate):
            raise SimulationInputError(f"scenario {self.name!r}: a rate is negative")

    def rate_at(self, seconds: float) -> float:
        """Uploads per second at ``seconds`` into the scenario."""
        minute = seconds / 60
        points = self.rate
        for (m0, r0), (m1, r1) in itertools.pairwise(points):
            if m0 <= minute < m1:
                return r0 + (r1 - r0) * (minute - m0) / (m1 - m0)
        return points[-1][1]

    @property
    def peak(self) -> float:
        """The highest rate anywhere in the scenario."""
        return max(r for _, r in self.rate)


def scenario_from_json(doc: Any) -> Scenario:
    """Parse ``{"name": ..., "minutes": ..., "rate": [[minute, uploads_per_second], ...]}``."""
    if not isinstance(doc, dict):
        raise SimulationInputError("scenario: not a JSON object")
    unknown = set(doc) - {"name", "minutes", "rate"}
    if unknown:
        raise SimulationInputError(f"scenario: unknown field(s) {sorted(unknown)}")
    try:
        points = tuple((float(m), float(r)) for m, r in doc["rate"])
        return Scenario(str(doc["name"]), float(doc["minutes"]), points)
    except (KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, SimulationInputError):
            raise
        raise SimulationInputError(f"scenario: {exc!r} (need name, minutes, rate)") from exc


@dataclass(frozen=True)
class InstanceType:
    """An EC2 instance type's size and price; ``baseline`` per vCPU for burstable types."""

    name: str
    vcpus: int
    hourly: float
    baseline: float | None
    surplus_credit_per_vcpu_hour: float
    # None: no Spot price known; such a type runs on-demand only.
    spot_hourly: float | None = None


def instance_type(name: str, prices: Path = PRICES_FILE) -> InstanceType:
    """Look ``name`` up in the dated price table."""
    table = json.loads(prices.read_text())
    try:
        row = table["types"][name]
    except KeyError:
        known = ", ".join(sorted(table["types"]))
        raise SimulationInputError(f"instance type {name!r} is not priced ({known})") from None
    return InstanceType(
        name,
        row["vcpus"],
        row["hourly"],
        row["baseline"],
        table["surplus_credit_per_vcpu_hour"],
        row.get("spot_hourly"),
    )


@dataclass(frozen=True)
class ServiceTimes:
    """Measured seconds per job by jobs running at once, on a machine of ``cores`` cores."""

    cores: int
    by_concurrency: dict[int, tuple[float, ...]]

    def sampler(self, vcpus: int, rng: random.Random) -> Callable[[int], float]:
        """Draw a job's time on a ``vcpus`` instance running ``busy`` jobs (itself included).

        The machine's measurement at the same jobs per core stands in for the instance,
        which assumes one of its vCPUs is as fast as one core here.
        """
        measured = sorted(self.by_concurrency)

        def draw(busy: int) -> float:
            per_core_here = math.ceil(busy * self.cores / vcpus)
            key = min((k for k in measured if k >= per_core_here), default=measured[-1])
            scale = per_core_here / key if per_core_here > key else 1.0
            return rng.choice(self.by_concurrency[key]) * scale

        return draw


def load_service_times(path: Path) -> ServiceTimes:
    """The service times in a calibration file written by ``bench/scaling_calibration.py``."""
    try:
        doc = json.loads(path.read_text())
        samples = {int(k): tuple(v / 1000 for v in ms) for k, ms in doc["service_ms"].items()}
        return ServiceTimes(int(doc["cores"]), samples)
    except (OSError, KeyError, TypeError, ValueError) as exc:
        raise SimulationInputError(f"calibration file {path}: {exc!r}") from exc
