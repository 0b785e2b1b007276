"""S3 and SQS requests per upload, job, view and delete, counted, for the cost model.

The service runs on moto's server behind ``bench/latency_proxy.py`` (no added latency),
which logs every request; one upload at a time, each step's requests are the ones that
began within it:

- **upload**: ``POST /`` to its 202;
- **job**: from the 202 until the job's ``DeleteMessage`` and the pending marker's
  delete have ended (the worker's receives are counted apart: with a backlog one
  receive serves several jobs, so the model takes them from the receive loop);
- **view**: the share page ``GET /i/<id>`` and the status ``GET /images/<id>`` through
  the server (on AWS the thumbnails come from CloudFront, an S3 GET only on a miss);
- **delete**: ``DELETE /images/<id>`` with the upload's token;
- **idle**: ``ReceiveMessage`` calls of one idle worker over a minute (long polls).

Thumbnail sizes are read from the bucket, for the bytes a view sends. Writes
``bench/results/request_counts.json``, which the cost model reads when given its path
(``python -m fleet_model --cost --request-counts``, docs/cost.md).

    .venv/bin/python bench/request_counts.py [--uploads 5]
"""

import argparse
import json
import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path

import boto3
import requests
from corpus import build
from latency_proxy import Exchange, LatencyProxy
from service_load import multipart_body

from cdk.job_queues import VISIBILITY_TIMEOUT_SECONDS
from support.services import FAKE_AWS_CREDENTIALS, Service, aws_env, moto_server

BENCH = Path(__file__).resolve().parent

RESULTS = BENCH / "results" / "request_counts.json"
BUCKET = "bench-requests"
TIMEOUT_S = 30.0
IDLE_S = 60.0
_POLLS = ("ReceiveMessage", "ChangeMessageVisibility")


def kind(exchange: Exchange) -> str:
    """``S3 PUT``, ``S3 GET``, ``S3 LIST``..., or ``SQS SendMessage``..."""
    method, _, path = exchange.operation.partition(" ")
    if not path:
        return f"SQS {exchange.operation}"
    if method == "GET" and path.rstrip("/") == f"/{BUCKET}":
        return "S3 LIST"
    return f"S3 {method}"


def _counted(log: list[Exchange], began: float, ended: float) -> Counter[str]:
    return Counter(kind(e) for e in log if began <= e.began <= ended and e.operation not in _POLLS)


def _wait_for(proxy: LatencyProxy, operation: str, after: float) -> float:
    deadline = time.monotonic() + TIMEOUT_S
    while time.monotonic() < deadline:
        ends = [e.ended for e in proxy.exchanges() if e.operation == operation and e.began > after]
        if ends:
            time.sleep(0.5)  # the pending marker's delete runs beside the message's
            return max(ends) + 0.5
        time.sleep(0.01)
    raise RuntimeError(f"no {operation} within {TIMEOUT_S}s")


def measure(workdir: Path, corpus: list[bytes], uploads: int) -> dict[str, object]:
    """Counts per step (median over ``uploads``), idle polls per hour, thumbnail bytes."""
    steps: dict[str, list[Counter[str]]] = {"upload": [], "job": [], "view": [], "delete": []}
    thumbnail_bytes: dict[str, list[int]] = {}
    with moto_server(workdir) as endpoint, LatencyProxy(endpoint, 0.0) as proxy:
        env = aws_env(endpoint, bucket=BUCKET) | {
            "SHARER_AWS_ENDPOINT_URL": proxy.url,
            # As the stack deploys it (cdk/job_queues.py): it sets the long poll's length.
            "SHARER_VISIBILITY_TIMEOUT": str(VISIBILITY_TIMEOUT_SECONDS),
        }
        s3 = boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name=FAKE_AWS_CREDENTIALS["AWS_REGION"],
            aws_access_key_id=FAKE_AWS_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=FAKE_AWS_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        )
        with Service(env, workdir).running(workers=1) as service, requests.Session() as client:
            idle_began = time.monotonic()
            time.sleep(IDLE_S)
            idle_polls = sum(
                1
                for e in proxy.exchanges()
                if e.operation == "ReceiveMessage" and e.began >= idle_began
            )
            for data in (corpus * uploads)[:uploads]:
                body, content_type = multipart_body(data)
                began = time.monotonic()
                answer = client.post(
                    f"{service.base_url}/",
                    data=body,
                    headers={"Content-Type": content_type},
                    timeout=TIMEOUT_S,
                )
                answered = time.monotonic()
                answer.raise_for_status()
                image_id = answer.json()["original"].rsplit("/", 2)[-2]
                done = _wait_for(proxy, "DeleteMessage", answered)
                log = proxy.exchanges()
                steps["upload"].append(_counted(log, began, answered))
                steps["job"].append(_counted(log, answered, done))
                listed = s3.list_objects_v2(Bucket=BUCKET, Prefix=f"images/{image_id}/")
                for item in listed.get("Contents", []):
                    name = item["Key"].rsplit("/", 1)[-1].split(".")[0]
                    thumbnail_bytes.setdefault(name, []).append(item["Size"])
                view_began = time.monotonic()
                for path in (f"/i/{image_id}", f"/images/{image_id}"):
                    client.get(f"{service.base_url}{path}", timeout=TIMEOUT_S).raise_for_status()
                steps["view"].append(_counted(proxy.exchanges(), view_began, time.monotonic()))
                delete_began = time.monotonic()
                client.delete(
                    f"{service.base_url}/images/{image_id}",
                    headers={"Authorization": f"Bearer {answer.headers['Delete-Token']}"},
                    timeout=TIMEOUT_S,
                ).raise_for_status()
                time.sleep(0.5)
                steps["delete"].append(_counted(proxy.exchanges(), delete_began, time.monotonic()))
    return {
        "measured": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "uploads": uploads,
        "requests": {step: _medians(counts) for step, counts in steps.items()},
        "idle_receives_per_worker_hour": idle_polls * 3600 / IDLE_S,
        "thumbnail_bytes_median": {
            name: int(statistics.median(sizes)) for name, sizes in sorted(thumbnail_bytes.items())
        },
    }


def _medians(counts: list[Counter[str]]) -> dict[str, float]:
    kinds = sorted({k for c in counts for k in c})
    return {k: float(statistics.median(c[k] for c in counts)) for k in kinds}


def main() -> None:
    """Count and write the results file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uploads", type=int, default=5)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    corpus = [path.read_bytes() for path in build()]
    with tempfile.TemporaryDirectory(prefix="sharer-requests-") as scratch:
        doc = measure(Path(scratch), corpus, args.uploads)
    args.output.write_text(json.dumps(doc, indent=1) + "\n")
    print(json.dumps(doc, indent=1))


if __name__ == "__main__":
    main()
