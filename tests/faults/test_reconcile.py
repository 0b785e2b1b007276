"""An image left pending by a server that died between storing it and queueing its job
is finished by ``sharer-reconcile``, run as a process, with a real worker, on both pairs."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from faults.conftest import Stack
from reconciler.pending import SCAN_PAGE
from sharer.delete_tokens import new_delete_token, token_digest
from sharer.formats import JPEG
from sharer.ids import new_image_id
from sharer.key_scheme import pending_key, status_key
from sharer.messages import ThumbnailJob, job_for_upload
from sharer.pending_markers import marker_object
from sharer.status import encode_status, status_for_job
from sharer.storage import NewObject
from support import images
from support.client import wait_for_status
from support.services import json_lines

pytestmark = pytest.mark.e2e

STALE_SECONDS = 1


def _stored_not_queued(stack: Stack, token: str, image_id: str | None = None) -> ThumbnailJob:
    """What ``accept_upload`` stores before it sends the job: the server died right there."""
    job = job_for_upload(
        image_id or new_image_id(), JPEG, has_alpha=False, delete_token_sha256=token_digest(token)
    )
    pending = encode_status(status_for_job(job))
    stack.backends.storage.put_all(
        [
            NewObject(job.original_key, images.jpeg((800, 600)), "image/jpeg"),
            NewObject(status_key(job.image_id), pending, "application/json", immutable=False),
            marker_object(job),
        ]
    )
    return job


def _reconcile(stack: Stack, stale_seconds: int = STALE_SECONDS) -> list[dict[str, object]]:
    """Run ``sharer-reconcile`` once; its JSON log lines."""
    env = os.environ | stack.service.env | {"SHARER_RECONCILE_STALE_SECONDS": str(stale_seconds)}
    done = subprocess.run(
        [sys.executable, "-m", "reconciler"], env=env, capture_output=True, timeout=60
    )
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    log = stack.service.log_dir / "reconcile.log"
    log.write_bytes(done.stderr)
    return json_lines(log)


def test_the_reconciler_finishes_an_image_the_server_never_queued(stack: Stack) -> None:
    service = stack.service
    service.start_server()
    service.start_worker()
    token = new_delete_token()
    job = _stored_not_queued(stack, token)
    location = f"/images/{job.image_id}"
    time.sleep(STALE_SECONDS + 1)  # the marker's modification time has a 1 s grain on S3
    assert requests.get(f"{service.base_url}{location}", timeout=10).json()["status"] == "pending"

    (summary,) = [r for r in _reconcile(stack) if r["msg"] == "reconcile pass done"]
    assert summary["requeued"] == [job.image_id]

    status = wait_for_status(service.base_url, location)
    assert status["status"] == "ready"
    assert status["width"] == 800
    assert stack.backends.keys("pending/") == []
    # The record the worker wrote kept the digest: the token still deletes the image.
    deleted = requests.delete(
        f"{service.base_url}{location}", headers={"Authorization": f"Bearer {token}"}, timeout=30
    )
    assert deleted.status_code == 204
    # Nothing is left pending: the next pass has nothing to do.
    (summary,) = [r for r in _reconcile(stack) if r["msg"] == "reconcile pass done"]
    assert (summary["scanned"], summary["requeued"]) == (0, [])


def test_fresh_markers_never_hide_a_stale_one(local_stack: Stack) -> None:
    """More fresh markers than one list page, all lexically before the one stale marker."""
    stale_seconds = 600
    stale = _stored_not_queued(local_stack, new_delete_token(), image_id="z" * 22)
    marker = Path(local_stack.service.env["SHARER_DATA_DIR"]) / "media" / pending_key("z" * 22)
    long_ago = time.time() - 2 * stale_seconds
    os.utime(marker, (long_ago, long_ago))
    fresh = [f"A{n:021d}" for n in range(SCAN_PAGE + 1)]
    for image_id in fresh:
        local_stack.backends.storage.put(
            pending_key(image_id), b"{}", "application/json", immutable=False
        )

    logged = _reconcile(local_stack, stale_seconds)
    (summary,) = [r for r in logged if r["msg"] == "reconcile pass done"]
    assert summary["scanned"] == len(fresh) + 1
    assert summary["requeued"] == [stale.image_id]
