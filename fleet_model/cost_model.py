"""The price of a million uploads: workers and servers, S3, SQS, CloudFront, storage.

Request counts are measured, not guessed: ``bench/request_counts.py`` runs the service on
moto's server behind the latency proxy and counts every S3 and SQS request an upload, a
job, a view and a delete make, the idle worker's long polls, and the bytes of what a job
stores; its caller gives the file's path. The worker fleet's dollars come from the
simulator on a steady scenario at the given rate. Prices: ``fleet_model/instance_prices.json``
and ``fleet_model/service_prices.json`` (dated, with their sources). docs/cost.md has the
table, the command and the comparison with AWS's on-the-fly design (Dynamic Image
Transformation for Amazon CloudFront).
"""

import json
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cdk.config import DeployConfig

SERVICE_PRICES_FILE = Path(__file__).resolve().parent / "service_prices.json"
# A view loads the share page and its large thumbnail, both through CloudFront.
VIEW_THUMBNAIL = "large"
CLOUDFRONT_REQUESTS_PER_VIEW = 2
# The on-the-fly design's function: its memory (GB) as deployed by default (from memory
# of the solution's template; stated in docs/cost.md).
ON_THE_FLY_LAMBDA_GB = 1.0
_S3_TIER_1 = ("PUT", "POST", "LIST", "COPY")
_S3_TIER_2 = ("GET", "HEAD")


class CostInputError(ValueError):
    """A request-count or price file the cost model cannot use; the message says which."""


@dataclass(frozen=True)
class Traffic:
    """What the month looks like: uploads per second, views per image (each one
    ``cache_hit`` likely to be served from CloudFront's cache), the share deleted."""

    rate: float
    views: float
    cache_hit: float = 0.9
    deleted: float = 0.0


@dataclass(frozen=True)
class Compute:
    """Worker dollars and worker-hours per upload (from a simulated run), and the servers."""

    worker_dollars_per_upload: float
    worker_hours_per_upload: float
    server_dollars_per_hour: float
    # Seconds of one job on one core, for the on-the-fly design's function duration.
    job_seconds: float


def load_json(path: Path) -> dict[str, Any]:
    """A JSON object from ``path``, or ``CostInputError`` naming it."""
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise CostInputError(f"{path}: {exc!r}") from exc
    if not isinstance(doc, dict):
        raise CostInputError(f"{path}: not a JSON object")
    return doc


def _s3_dollars(counts: dict[str, float], prices: dict[str, Any]) -> float:
    dollars = 0.0
    for kind, count in counts.items():
        service, _, method = kind.partition(" ")
        if service != "S3":
            continue
        if method in _S3_TIER_1:
            dollars += count / 1000 * prices["s3_put_copy_post_list_per_1000"]
        elif method in _S3_TIER_2:
            dollars += count / 1000 * prices["s3_get_head_per_1000"]
    return dollars


def _sqs_requests(counts: dict[str, float]) -> float:
    return sum(count for kind, count in counts.items() if kind.startswith("SQS "))


def per_million(
    traffic: Traffic, compute: Compute, counts: dict[str, Any], prices: dict[str, Any]
) -> dict[str, float]:
    """Dollars per million uploads by line item, for this design."""
    million = 1e6
    steps: dict[str, dict[str, float]] = counts["requests"]
    sizes: dict[str, int] = counts["thumbnail_bytes_median"]
    hours = million / (traffic.rate * 3600)
    worker_hours = compute.worker_hours_per_upload * million
    misses = traffic.views * (1 - traffic.cache_hit)
    s3 = million * (
        _s3_dollars(steps["upload"], prices)
        + _s3_dollars(steps["job"], prices)
        + traffic.views * _s3_dollars(steps["view"], prices)
        + traffic.deleted * _s3_dollars(steps["delete"], prices)
        + misses / 1000 * prices["s3_get_head_per_1000"]
    )
    # One receive per job at most (a backlog shares receives), and every idle long poll.
    sqs_requests = (
        million
        * (
            _sqs_requests(steps["upload"])
            + _sqs_requests(steps["job"])
            + 1
            + traffic.deleted * _sqs_requests(steps["delete"])
        )
        + worker_hours * counts["idle_receives_per_worker_hour"]
    )
    stored_gb = million * sum(sizes.values()) / 1e9
    return {
        "workers (instance-hours, credits)": compute.worker_dollars_per_upload * million,
        "servers (instance-hours)": compute.server_dollars_per_hour * hours,
        "S3 requests": s3,
        "SQS requests (idle long polls included)": sqs_requests
        / million
        * prices["sqs_per_million_requests"],
        "CloudFront requests": million
        * traffic.views
        * CLOUDFRONT_REQUESTS_PER_VIEW
        / 10000
        * prices["cloudfront_https_per_10000"],
        "CloudFront egress": million
        * traffic.views
        * sizes[VIEW_THUMBNAIL]
        / 1e9
        * prices["cloudfront_egress_per_gb"],
        "S3 storage, one month": stored_gb * prices["s3_storage_per_gb_month"],
    }


def on_the_fly_per_million(
    traffic: Traffic, compute: Compute, counts: dict[str, Any], prices: dict[str, Any]
) -> dict[str, float]:
    """The same traffic on AWS's on-the-fly design: no workers or queue; each cache miss
    runs API Gateway and a Lambda function that reads the original and resizes it."""
    million = 1e6
    sizes: dict[str, int] = counts["thumbnail_bytes_median"]
    hours = million / (traffic.rate * 3600)
    misses = million * traffic.views * (1 - traffic.cache_hit)
    upload_s3 = _s3_dollars(
        {k: v for k, v in counts["requests"]["upload"].items() if k.startswith("S3 ")}, prices
    )
    return {
        "servers (instance-hours, uploads only)": compute.server_dollars_per_hour * hours,
        "S3 requests": million * upload_s3 + misses / 1000 * prices["s3_get_head_per_1000"],
        "API Gateway requests (misses)": misses / million * prices["api_gateway_rest_per_million"],
        "Lambda requests and duration (misses)": misses
        / million
        * prices["lambda_per_million_requests"]
        + misses * compute.job_seconds * ON_THE_FLY_LAMBDA_GB * prices["lambda_arm_per_gb_second"],
        "CloudFront requests": million
        * traffic.views
        * CLOUDFRONT_REQUESTS_PER_VIEW
        / 10000
        * prices["cloudfront_https_per_10000"],
        "CloudFront egress": million
        * traffic.views
        * sizes[VIEW_THUMBNAIL]
        / 1e9
        * prices["cloudfront_egress_per_gb"],
        "S3 storage, one month (originals only)": million
        * sizes["original"]
        / 1e9
        * prices["s3_storage_per_gb_month"],
    }


def server_dollars_per_hour(config: DeployConfig, hourly: float) -> float:
    """The upload tier at its minimum, on-demand."""
    return config.server_min * hourly


def median_job_seconds(calibration: dict[str, Any]) -> float:
    """A job's median time with one job running, from the calibration file."""
    return float(statistics.median(calibration["service_ms"]["1"])) / 1000


def table(items: dict[str, float]) -> list[str]:
    """Markdown rows: each line item and the total."""
    rows = [f"| {name} | {dollars:.2f} |" for name, dollars in items.items()]
    rows.append(f"| **total** | **{sum(items.values()):.2f}** |")
    return rows
