"""The cost model's arithmetic on counts and prices set by hand, and its command line."""

import json
from pathlib import Path

import pytest

from fleet_model.command import main
from fleet_model.cost_model import (
    SERVICE_PRICES_FILE,
    Compute,
    Traffic,
    load_json,
    on_the_fly_per_million,
    per_million,
)

COUNTS = {
    "requests": {
        "upload": {"S3 PUT": 3.0, "SQS SendMessage": 1.0},
        "job": {"S3 GET": 1.0, "S3 PUT": 4.0, "S3 DELETE": 1.0, "SQS DeleteMessage": 1.0},
        "view": {"S3 GET": 1.0},
        "delete": {"S3 DELETE": 5.0, "S3 PUT": 1.0},
    },
    "idle_receives_per_worker_hour": 180.0,
    "thumbnail_bytes_median": {"original": 400_000, "small": 5_000, "large": 50_000},
}
PRICES = load_json(SERVICE_PRICES_FILE)
COMPUTE = Compute(
    worker_dollars_per_upload=2e-6,
    worker_hours_per_upload=1e-4,
    server_dollars_per_hour=0.0336,
    job_seconds=0.1,
)


def test_each_line_item_follows_its_counts_and_price() -> None:
    items = per_million(Traffic(rate=2.0, views=10, cache_hit=0.9), COMPUTE, COUNTS, PRICES)
    assert items["workers (instance-hours, credits)"] == pytest.approx(2.0)
    assert items["servers (instance-hours)"] == pytest.approx(0.0336 * 1e6 / 7200)
    # PUTs: 3 + 4 per upload; GETs: 1 per job, 10 per upload's views, 1 per cache miss.
    s3 = (
        7 * 1e3 * PRICES["s3_put_copy_post_list_per_1000"]
        + (1 + 10 + 1) * 1e3 * PRICES["s3_get_head_per_1000"]
    )
    assert items["S3 requests"] == pytest.approx(s3)
    # Send, delete, one receive per job, and 180 idle polls per worker-hour (100 hours).
    sqs = (3 * 1e6 + 100 * 180) / 1e6 * PRICES["sqs_per_million_requests"]
    assert items["SQS requests (idle long polls included)"] == pytest.approx(sqs)
    egress = 1e6 * 10 * 50_000 / 1e9 * PRICES["cloudfront_egress_per_gb"]
    assert items["CloudFront egress"] == pytest.approx(egress)


def test_more_views_cost_more_and_deletes_cost_their_requests() -> None:
    few = per_million(Traffic(2.0, views=1), COMPUTE, COUNTS, PRICES)
    many = per_million(Traffic(2.0, views=100), COMPUTE, COUNTS, PRICES)
    assert many["CloudFront egress"] == pytest.approx(100 * few["CloudFront egress"])
    deleting = per_million(Traffic(2.0, views=1, deleted=1.0), COMPUTE, COUNTS, PRICES)
    assert deleting["S3 requests"] > few["S3 requests"]


def test_the_on_the_fly_design_pays_per_cache_miss_and_stores_originals_only() -> None:
    warm = on_the_fly_per_million(Traffic(2.0, 10, cache_hit=0.99), COMPUTE, COUNTS, PRICES)
    cold = on_the_fly_per_million(Traffic(2.0, 10, cache_hit=0.0), COMPUTE, COUNTS, PRICES)
    key = "Lambda requests and duration (misses)"
    assert cold[key] == pytest.approx(100 * warm[key])
    assert "workers (instance-hours, credits)" not in cold
    storage = 1e6 * 400_000 / 1e9 * PRICES["s3_storage_per_gb_month"]
    assert cold["S3 storage, one month (originals only)"] == pytest.approx(storage)


def test_the_command_prints_both_tables(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    measured_calibration: Path,
    measured_request_counts: Path,
) -> None:
    out = tmp_path / "cost.json"
    measured = [
        "--calibration",
        str(measured_calibration),
        "--request-counts",
        str(measured_request_counts),
    ]
    assert main(["--cost", "--rate", "1", "--views", "5", "--json", str(out), *measured]) == 0
    printed = capsys.readouterr().out
    assert "this design" in printed
    assert "on-the-fly" in printed
    doc = json.loads(out.read_text())
    assert doc["this_design"]["workers (instance-hours, credits)"] > 0
