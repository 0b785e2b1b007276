"""The rehearsal's scenarios: each drives a running ``Stage`` and returns a ``Proof``
(what it showed, with figures, and what went wrong). The tests assert on a proof's
failures; ``bench/rehearse.py`` prints every proof as a table.
"""

import itertools
import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import requests
from botocore.exceptions import ClientError

from support import accept_headers, images
from support.load import Accepted, Tally, check_thumbnails, settle, upload_many
from support.rehearsal.stage import Stage
from support.waiting import wait_for

REQUEST_TIMEOUT = 30.0
SETTLE_SECONDS = 180.0
OUTAGE_SECONDS = 20.0
# Longer than the template's visibility timeout (120 s), so a dead worker's messages
# come back and are consumed.
QUEUE_EMPTY_SECONDS = 240.0
# The CLI's own command, as a user runs it.
CLI = Path(sys.executable).parent / "sharer"


@dataclass
class Proof:
    """What one scenario showed: its claim, figures, and failures (empty when it held)."""

    number: int
    claim: str
    figures: dict[str, object] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    unproven: list[str] = field(default_factory=list)

    def check(self, holds: bool, failure: str) -> None:
        """Record ``failure`` unless ``holds``."""
        if not holds:
            self.failures.append(failure)


def payloads(count: int, seed: int) -> list[bytes]:
    """``count`` distinct small JPEGs (distinct bytes, so duplicates can be counted)."""
    return [images.jpeg((480, 360), seed=seed + n) for n in range(count)]


def originals(stage: Stage) -> list[str]:
    """Keys of every original in the bucket."""
    s3 = stage.account.s3()
    keys: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(
        Bucket=stage.provisioned.bucket, Prefix="images/"
    ):
        keys += [o["Key"] for o in page.get("Contents", []) if "/original." in o["Key"]]
    return keys


def image_keys(stage: Stage, image_id: str) -> list[str]:
    """Every object of one image (original and thumbnails) left in the bucket."""
    listed = stage.account.s3().list_objects_v2(
        Bucket=stage.provisioned.bucket, Prefix=f"images/{image_id}/"
    )
    return [o["Key"] for o in listed.get("Contents", [])]


def _tally_failures(proof: Proof, tally: Tally) -> None:
    failed = tally.attempts - tally.statuses[202]
    proof.figures |= {"uploads": tally.attempts, "accepted": tally.statuses[202], "failed": failed}
    proof.check(failed == 0, f"{failed} uploads failed: {dict(tally.statuses)}, "
                f"{tally.connection_errors} connection errors")  # fmt: skip


def _settled(stage: Stage, proof: Proof, accepted: list[Accepted]) -> None:
    states = settle(stage.cdn.base_url, accepted, timeout=SETTLE_SECONDS)
    ready = sum(1 for s in states.values() if s == "ready")
    proof.figures["ready"] = ready
    proof.check(ready == len(accepted), f"{len(accepted) - ready} images never became ready")


def _settled_by_one_worker(stage: Stage, proof: Proof, accepted: Accepted) -> None:
    """One worker instance, outside the fleet, until ``accepted``'s image settles."""
    worker = stage.worker()
    worker.start()
    try:
        _settled(stage, proof, [accepted])
    finally:
        worker.stop()


def uploads_through_the_cdn(stage: Stage, *, total: int = 60, concurrency: int = 8) -> Proof:
    """1. Uploads under load through the CDN; every 202's thumbnails fetchable there."""
    proof = Proof(1, "uploads under load through the CDN; every thumbnail fetchable there")
    started = time.monotonic()
    with stage.worker_fleet() as fleet:
        tally = upload_many(
            stage.cdn.base_url, payloads(6, 100), concurrency=concurrency, total=total
        )
        _tally_failures(proof, tally)
        _settled(stage, proof, tally.accepted)
        proof.figures["peak workers"] = max((s.desired for s in fleet.samples), default=0)
    problems = check_thumbnails(tally.accepted)
    proof.figures["thumbnails fetched"] = 3 * len(tally.accepted) - len(problems)
    proof.figures["seconds"] = round(time.monotonic() - started, 1)
    proof.check(not problems, f"thumbnails not served: {problems[:3]}")
    # The variants' edge function, as the VCL does it: a browser's Accept gets AVIF from
    # the JPEG's URL (written by the worker under the template's IAM).
    served = [
        requests.get(
            accepted.urls["large"],
            headers={"Accept": accept_headers.CHROMIUM},
            timeout=REQUEST_TIMEOUT,
        ).headers.get("Content-Type")
        for accepted in tally.accepted[:3]
    ]
    proof.figures["AVIF to Chromium's Accept"] = f"{served.count('image/avif')}/{len(served)}"
    proof.check(served.count("image/avif") == len(served), f"variants not served: {served}")
    return proof


def _hit(response: requests.Response) -> bool:
    # Varnish names two transactions (this one and the one that stored it) on a cache hit.
    return len(response.headers.get("X-Varnish", "").split()) == 2


def _upload(stage: Stage, data: bytes) -> tuple[Accepted, str]:
    answer = requests.post(
        f"{stage.cdn.base_url}/",
        files={"image": ("upload.jpg", data, "image/jpeg")},
        timeout=REQUEST_TIMEOUT,
    )
    return Accepted.from_response(answer), answer.headers["Delete-Token"]


def thumbnail_not_cached_before_ready(stage: Stage) -> Proof:
    """5. A thumbnail asked for before it exists is never cached; served once ready."""
    proof = Proof(5, "a thumbnail fetched before it is ready is not cached; served once ready")
    accepted, _ = _upload(stage, images.jpeg((640, 480), seed=500))
    url = accepted.urls["small"]
    early = [requests.get(url, timeout=REQUEST_TIMEOUT) for _ in range(3)]
    proof.figures["statuses before ready"] = sorted({r.status_code for r in early})
    proof.check(all(r.status_code in (403, 404) for r in early), "a missing thumbnail answered")
    proof.check(not any(_hit(r) for r in early), "a missing thumbnail was served from cache")
    _settled_by_one_worker(stage, proof, accepted)
    ready = requests.get(url, timeout=REQUEST_TIMEOUT)
    again = requests.get(url, timeout=REQUEST_TIMEOUT)
    proof.figures["status once ready"] = ready.status_code
    proof.figures["second fetch from cache"] = _hit(again)
    proof.check(ready.status_code == 200, f"ready thumbnail answered {ready.status_code}")
    proof.check(_hit(again), "a ready thumbnail was not cached by its behaviour")
    return proof


def delete_purges_the_cdn(stage: Stage) -> Proof:
    """6. Delete: the CDN's copy purged through the invalidation call; gone everywhere."""
    proof = Proof(6, "delete purges the CDN through CreateInvalidation; the image is gone")
    accepted, token = _upload(stage, images.jpeg((640, 480), seed=600))
    image_id = accepted.location.rsplit("/", 1)[1]
    _settled_by_one_worker(stage, proof, accepted)
    urls = list(accepted.urls.values())
    for url in urls:
        requests.get(url, timeout=REQUEST_TIMEOUT)
    cached = sum(_hit(requests.get(url, timeout=REQUEST_TIMEOUT)) for url in urls)
    proof.figures["cached before delete"] = f"{cached}/{len(urls)}"
    deleted_at = time.monotonic()
    answer = requests.delete(
        f"{stage.cdn.base_url}/images/{image_id}",
        headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
        timeout=REQUEST_TIMEOUT,
    )
    proof.check(answer.status_code == 204, f"delete answered {answer.status_code}")
    purged = wait_for(lambda: any(image_id in p for p in stage.bridge.purged), timeout=30)
    proof.check(purged, f"no invalidation reached the CDN: {stage.bridge.failed}")
    if purged:
        when = min(t for p, t in stage.bridge.purged.items() if image_id in p)
        proof.figures["seconds to purge"] = round(when - deleted_at, 2)
    after = [requests.get(url, timeout=REQUEST_TIMEOUT).status_code for url in urls]
    proof.figures["statuses after"] = sorted(set(after))
    proof.check(all(s in (403, 404) for s in after), f"served after delete: {after}")
    left = image_keys(stage, image_id)
    proof.figures["objects left"] = len(left)
    proof.check(not left, f"left in the bucket: {left}")
    return proof


def _refused(call: Callable[[], object]) -> bool:
    try:
        call()
    except ClientError as error:
        # moto's SQS and CloudFront refusals carry no error code, only the status.
        return int(error.response["ResponseMetadata"]["HTTPStatusCode"]) == 403
    return False


def _access_denied_in_logs(stage: Stage) -> list[str]:
    found = []
    for path in stage.workdir.glob("*/var/log/sharer/*.log"):
        found += [f"{path}: {line[:160]}" for line in path.read_text(errors="replace").splitlines()
                  if "AccessDenied" in line or "not authorized" in line]  # fmt: skip
    return found


def iam_as_the_template_grants(stage: Stage) -> Proof:
    """7. Every call the code makes is allowed; the forbidden ones are refused."""
    proof = Proof(7, "IAM: every call the code makes is allowed, forbidden ones refused")
    reconcile = stage.reconciler()
    reconcile.start()
    proof.check(reconcile.process is not None and reconcile.process.wait(120) == 0,
                "the reconciler's pass failed")  # fmt: skip
    denied = _access_denied_in_logs(stage)
    proof.figures["denied calls in the processes' logs"] = len(denied)
    proof.check(not denied, f"calls refused: {denied[:3]}")
    bucket = stage.provisioned.bucket
    server, worker = stage.identities["server"], stage.identities["worker"]
    s3_server, s3_worker = stage.account.s3(server), stage.account.s3(worker)
    forbidden = {
        "server writes a thumbnail": lambda: s3_server.put_object(
            Bucket=bucket, Key="images/forbidden/small.jpg", Body=b"x"
        ),
        "server reads a thumbnail": lambda: s3_server.get_object(
            Bucket=bucket, Key="images/forbidden/small.jpg"
        ),
        "worker writes an original": lambda: s3_worker.put_object(
            Bucket=bucket, Key="images/forbidden/original.jpg", Body=b"x"
        ),
        "worker writes a tombstone": lambda: s3_worker.put_object(
            Bucket=bucket, Key="deleted/forbidden.json", Body=b"x"
        ),
        "server receives jobs": lambda: stage.account.sqs(server).receive_message(
            QueueUrl=stage.provisioned.queue_url
        ),
        "worker queues a job": lambda: stage.account.sqs(worker).send_message(
            QueueUrl=stage.provisioned.queue_url, MessageBody="{}"
        ),
    }
    refused = {name: _refused(call) for name, call in forbidden.items()}
    proof.figures["forbidden calls refused"] = f"{sum(refused.values())}/{len(refused)}"
    for name, ok in refused.items():
        proof.check(ok, f"allowed: {name}")
    invalidate = lambda: stage.account.cloudfront(worker).create_invalidation(  # noqa: E731
        DistributionId=stage.provisioned.distribution_id,
        InvalidationBatch={"Paths": {"Quantity": 1, "Items": ["/*"]}, "CallerReference": "x"},
    )
    if not _refused(invalidate):
        worker_actions = {
            action
            for statement in stage.template.role_statements("worker", stage.provisioned.physical)
            for action in statement.actions
        }
        granted = sorted(a for a in worker_actions if a.startswith("cloudfront:"))
        proof.check(not granted, f"the worker's policies grant {granted}")
        proof.unproven.append(
            "worker invalidating the CDN: moto does not check IAM on CreateInvalidation; "
            "the template grants the worker no cloudfront action"
        )
    listing = lambda: s3_server.list_objects_v2(Bucket=bucket, Prefix="images/")  # noqa: E731
    if not _refused(listing):
        proof.unproven.append(
            "server listing image keys: moto does not evaluate the s3:prefix StringLike "
            "condition (tests/infra/test_access.py pins the prefixes)"
        )
    mismatches = _resource_mismatches(stage)
    proof.figures["action-only grants whose ARN matches the emulated resource"] = (
        f"{2 - len(mismatches)}/2"
    )
    proof.check(not mismatches, f"template ARNs differ: {mismatches}")
    return proof


def _resource_mismatches(stage: Stage) -> list[str]:
    """The SSM and CloudFront grants (checked on the action only by moto) name the
    resources that exist: the settings parameter's ARN and the distribution's."""
    physical = stage.provisioned.physical
    statements = stage.template.role_statements("server", physical)
    granted = {r for s in statements for r in s.resources}
    ssm = stage.account.client("ssm").get_parameter(Name="/sharer/ImageSharer/server")
    (distribution,) = stage.account.recorded("cloudfront")["Distribution"]
    wanted = [ssm["Parameter"]["ARN"], distribution["arn"]]
    return [arn for arn in wanted if arn not in granted]


def _background_uploads(stage: Stage, stop: threading.Event, tally: Tally) -> threading.Thread:
    thread = threading.Thread(
        target=upload_many,
        args=(stage.cdn.base_url, payloads(4, 200)),
        kwargs={"concurrency": 4, "seconds": 600, "pause": 0.2, "tally": tally, "stop": stop},
        daemon=True,
    )
    thread.start()
    return thread


def rolling_replacement(stage: Stage, *, replace: int | None = None) -> Proof:
    """2. Every server (or ``replace`` of them) replaced under load, one at a time as the
    group's rolling update does (launch, healthy, drain, stop): 0 failed uploads."""
    proof = Proof(2, "rolling replacement of every server under load: 0 failed uploads")
    stop, tally = threading.Event(), Tally()
    # The worker group runs through the update as it does on AWS: the uploads' jobs are
    # done while the servers are replaced, not all after it.
    with stage.worker_fleet():
        thread = _background_uploads(stage, stop, tally)
        started = time.monotonic()
        drains, launches = [], []
        try:
            for old in list(stage.servers)[:replace]:
                launched = time.monotonic()
                stage.start_server()
                launches.append(round(time.monotonic() - launched, 1))
                drains.append(round(stage.stop_server(old), 1))
        finally:
            stop.set()
            thread.join(REQUEST_TIMEOUT * 2)
        proof.figures |= {
            "servers replaced": len(drains),
            "seconds to healthy": launches,
            "seconds draining": drains,
            "seconds": round(time.monotonic() - started, 1),
        }
        _tally_failures(proof, tally)
        _settled(stage, proof, tally.accepted)
    return proof


def kill_one_server(stage: Stage, workdir: Path, *, files: int = 40) -> Proof:
    """3. kill -9 of a server under load: the CLI's retries lose nothing."""
    proof = Proof(3, "kill -9 of a server under load: retrying CLI loses nothing, no duplicate")
    folder = workdir / "cli-uploads"
    folder.mkdir(exist_ok=True)
    paths = []
    for n, data in enumerate(payloads(files, 300)):
        path = folder / f"photo-{n}.jpg"
        path.write_bytes(data)
        paths.append(str(path))
    before = len(originals(stage))
    cli = subprocess.Popen(
        [
            str(CLI),
            "upload",
            "--json",
            "--concurrency",
            "4",
            "--server",
            stage.cdn.base_url,
            *paths,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    victim = next(iter(stage.servers))
    # Kill once the CLI is well into its uploads, while requests are in flight.
    wait_for(lambda: len(originals(stage)) - before >= files // 4, timeout=120, every=0.2)
    stage.kill_server(victim)
    killed_at = time.monotonic()
    out, _ = cli.communicate(timeout=600)
    lines = [json.loads(line) for line in out.decode().splitlines() if line.startswith("{")]
    accepted = [line for line in lines if line.get("status") == 202]
    stage.forget_server(victim)
    stage.start_server()
    stored = len(originals(stage)) - before
    lost = [line for line in lines if line.get("status") != 202]
    proof.figures |= {
        "files": files,
        "accepted": len(accepted),
        "originals stored": stored,
        "duplicates": max(0, stored - files),
        "seconds from kill to CLI done": round(time.monotonic() - killed_at, 1),
    }
    proof.check(
        not lost, f"{len(lost)} files lost: {[(x['status'], x.get('error')) for x in lost]}"
    )
    proof.check(stored >= files, f"only {stored} of {files} originals stored")
    # The CLI sends an Idempotency-Key per file and reuses it on every retry.
    proof.check(stored <= files, f"{stored - files} duplicate images")
    return proof


def _worker_jobs(stage: Stage) -> tuple[int, int]:
    """From every worker's log (one per instance): stops that had to wait for jobs in
    hand (scaled in mid-job), and jobs finished on a later delivery (a message come back)."""
    mid_job = redelivered = 0
    for path in stage.workdir.glob("worker-*/var/log/sharer/worker.log"):
        lines = path.read_text(errors="replace").splitlines()
        for record in (json.loads(line) for line in lines if line.startswith("{")):
            if record.get("msg") == "stopping: waiting for running jobs":
                mid_job += int(record.get("jobs", 0)) > 0
            if record.get("msg") == "thumbnails ready":
                redelivered += int(record.get("receive_count", 1)) > 1
    return mid_job, redelivered


def workers_scaled_in_and_out(stage: Stage, *, burst: int = 60, trickle: int = 60) -> Proof:
    """4. Workers scaled out from zero by a burst, all lost with jobs in hand, then
    scaled in while a trickle of uploads keeps jobs in flight: every job done."""
    proof = Proof(4, "workers scaled out from zero, lost with jobs, scaled in: every job done")
    started = time.monotonic()
    before = _worker_jobs(stage)
    with stage.worker_fleet() as fleet:
        proof.check(wait_for(lambda: bool(fleet.samples), timeout=30), "the fleet never sampled")
        at_zero = fleet.samples[-1].in_service
        tally = upload_many(stage.cdn.base_url, payloads(6, 400), concurrency=6, total=burst)
        first = wait_for(lambda: len(fleet.workers) > 0, timeout=60, every=0.2)
        proof.figures["seconds from burst to first worker"] = round(time.monotonic() - started, 1)
        proof.check(at_zero == 0 and first, "the fleet did not scale out from zero")
        # Every worker instance is lost at once while jobs are in flight (a zone goes
        # away): their messages come back after the queue's visibility timeout, and the
        # group replaces the instances.
        wait_for(lambda: stage.queue_depth()[1] > 0, timeout=60)
        backlog = stage.queue_depth()
        for lost in list(fleet.workers):
            fleet.workers.remove(lost)
            lost.kill()
        _settled(stage, proof, tally.accepted)
        # The burst done, the fleet is oversized: a trickle keeps a job or two in flight
        # while it scales in (a dead worker's invisible messages count as load until
        # they come back, so this waits for them first).
        upload_many(
            stage.cdn.base_url, payloads(3, 450), concurrency=2, total=trickle, pause=0.5,
            tally=tally,
        )  # fmt: skip
        _tally_failures(proof, tally)
        _settled(stage, proof, tally.accepted)
        # Every message, the dead workers' included once visible again, is consumed.
        emptied = wait_for(lambda: stage.queue_depth() == (0, 0), timeout=QUEUE_EMPTY_SECONDS)
        samples = list(fleet.samples)
        errors = list(fleet.errors)
    mid_job, redelivered = (now - was for now, was in zip(_worker_jobs(stage), before, strict=True))
    scale_ins = [
        (before, after) for before, after in itertools.pairwise(samples)
        if after.desired < before.desired
    ]  # fmt: skip
    proof.figures |= {
        "peak workers": max(s.in_service for s in samples),
        "scale-ins": len(scale_ins),
        "scale-ins with jobs in flight": sum(1 for b, _ in scale_ins if b.in_flight > 0),
        "stops that waited for jobs in hand": mid_job,
        "visible, in flight when every worker was killed": backlog,
        "jobs done on a later delivery": redelivered,
        "missed periods": len(errors),
        "seconds": round(time.monotonic() - started, 1),
    }
    proof.check(
        any(b.in_flight > 0 for b, _ in scale_ins), "the fleet never scaled in with jobs in flight"
    )
    proof.check(emptied, f"messages left in the queue: {stage.queue_depth()}")
    return proof


def dependency_outage(stage: Stage, *, seconds: float = OUTAGE_SECONDS) -> Proof:
    """8. S3 and SQS (moto) frozen for ``seconds``: the balancer keeps a server in service."""
    proof = Proof(8, f"S3 and SQS unreachable for {seconds:g} s: some server stays in service")
    in_service: list[int] = []
    before = {name: int(row["chkfail"] or 0) for name, row in stage.balancer.stats().items()}
    stage.account.process.send_signal(signal.SIGSTOP)
    started = time.monotonic()
    try:
        while time.monotonic() - started < seconds:
            in_service.append(len(stage.balancer.in_service()))
            time.sleep(0.5)
    finally:
        stage.account.process.send_signal(signal.SIGCONT)
    after = {name: int(row["chkfail"] or 0) for name, row in stage.balancer.stats().items()}
    recovered = wait_for(
        lambda: len(stage.balancer.in_service()) == len(stage.servers), timeout=90, every=0.5
    )
    proof.figures |= {
        "fewest servers in service": min(in_service),
        "failed health checks": sum(after.values()) - sum(before.values()),
        "all back in service": recovered,
    }
    proof.check(min(in_service) > 0, "every server was taken out of service")
    proof.check(recovered, "servers did not all come back")
    return proof
