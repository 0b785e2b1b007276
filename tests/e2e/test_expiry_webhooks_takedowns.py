"""Expiring uploads, signed webhooks and takedowns over real HTTP, on both backend pairs:
the server, a worker, ``sharer-webhooks`` and ``sharer-reconcile --every`` as processes,
a loopback receiver that checks every signature with the reference ``standardwebhooks``
library, and on AWS S3, SQS (the work and the webhook queues) and CloudFront on moto."""

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from unittest import mock

import boto3
import pytest
import requests

from sharer.backends import open_queue
from sharer.formats import JPEG
from sharer.ids import new_image_id
from sharer.key_scheme import EXPIRING_PREFIX, status_key, tombstone_key
from sharer.messages import encode_job, job_for_upload
from sharer.settings import CommonSettings
from sharer.status import encode_status, status_for_job
from sharer.storage import Storage
from support import images
from support.cdn import create_distribution, invalidated_paths
from support.client import upload, wait_for_status
from support.services import (
    FAKE_AWS_CREDENTIALS,
    Service,
    aws_env,
    local_env,
    moto_server,
    service_storage,
)
from support.sqs import create_work_queues
from support.webhook_receiver import WebhookReceiver

pytestmark = pytest.mark.e2e

BUCKET = "lifecycle-images"


@pytest.fixture(scope="module")
def receiver() -> Iterator[WebhookReceiver]:
    """The loopback receiver every test of the module shares."""
    with WebhookReceiver().serving() as serving:
        yield serving


def _lifecycle_env(receiver: WebhookReceiver) -> dict[str, str]:
    # Seconds, not minutes: a pass every second, expiry from one second, retries after one.
    return {
        "SHARER_WEBHOOK_URL": receiver.url,
        "SHARER_WEBHOOK_SECRET": receiver.secret,
        "SHARER_WEBHOOK_ALLOW_PRIVATE": "1",
        "SHARER_WEBHOOK_RETRY_BASE_SECONDS": "1",
        "SHARER_MIN_EXPIRES_SECONDS": "1",
        "SHARER_RECONCILE_PERIOD_SECONDS": "1",
    }


def _aws_lifecycle_env(endpoint: str) -> dict[str, str]:
    sqs = boto3.client(
        "sqs",
        endpoint_url=endpoint,
        region_name=FAKE_AWS_CREDENTIALS["AWS_REGION"],
        aws_access_key_id=FAKE_AWS_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=FAKE_AWS_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )
    webhook_queue, webhook_dlq = create_work_queues(sqs, "webhooks", max_receives=100)
    return aws_env(endpoint, bucket=BUCKET) | {
        "SHARER_CDN_DISTRIBUTION_ID": create_distribution(endpoint, BUCKET),
        "SHARER_WEBHOOK_QUEUE_URL": webhook_queue,
        "SHARER_WEBHOOK_DEAD_LETTER_QUEUE_URL": webhook_dlq,
    }


@pytest.fixture(scope="module", params=["local", "aws"])
def service(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    receiver: WebhookReceiver,
) -> Iterator[Service]:
    """Server, worker, webhook delivery and the reconciler every second, on one pair."""
    workdir: Path = tmp_path_factory.mktemp(request.param)
    with ExitStack() as stack:
        if request.param == "local":
            base = local_env(workdir)
        else:
            base = _aws_lifecycle_env(stack.enter_context(moto_server(workdir)))
        running = stack.enter_context(
            Service(base | _lifecycle_env(receiver), workdir).running(workers=1)
        )
        running.start_process("webhook_delivery", "webhooks")
        running.start_process("reconciler", "reconciler", "--every")
        yield running


@pytest.fixture(scope="module")
def storage(service: Service) -> Storage:
    """The service's own store, to see what is left of an image."""
    return service_storage(service)


def _ready_image(service: Service, **fields: str) -> tuple[str, str, dict[str, str]]:
    """Upload a JPEG (with ``fields`` beside it) and wait until ready: id, token, URLs."""
    response = requests.post(
        f"{service.base_url}/",
        files={"image": ("a.jpg", images.jpeg((320, 240)), "image/jpeg")},
        data=fields,
        timeout=30,
    )
    assert response.status_code == 202, response.text
    location = response.headers["Location"]
    assert wait_for_status(service.base_url, location)["status"] == "ready"
    return location.rsplit("/", 1)[1], response.headers["Delete-Token"], response.json()


def _is_gone(storage: Storage, image_id: str, urls: dict[str, str]) -> bool:
    """Whether the status and every object behind ``urls`` (the 202 body) are gone."""
    keys = [url[url.index("images/") :] for url in urls.values()]
    return not any(storage.exists(key) for key in [status_key(image_id), *keys])


def _invalidated(service: Service, image_id: str) -> bool:
    """On AWS, whether CloudFront was told to forget the image's objects and page."""
    if "SHARER_CDN_DISTRIBUTION_ID" not in service.env:
        return True
    paths = invalidated_paths(
        service.env["SHARER_AWS_ENDPOINT_URL"], service.env["SHARER_CDN_DISTRIBUTION_ID"]
    )
    return f"/{BUCKET}/images/{image_id}/*" in paths and f"/i/{image_id}" in paths


def test_ready_and_deleted_events_are_signed_to_the_standard(
    service: Service, receiver: WebhookReceiver
) -> None:
    image_id, token, _ = _ready_image(service)
    ready = receiver.wait_for(image_id, "image.ready")
    assert ready.event["data"]["status"] == "ready"  # type: ignore[index]
    assert set(ready.event) == {"type", "timestamp", "data"}
    assert ready.headers["webhook-id"].startswith("msg_")
    assert "delete_token_sha256" not in ready.body.decode()

    deleted = requests.delete(
        f"{service.base_url}/images/{image_id}",
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert deleted.status_code == 204
    gone = receiver.wait_for(image_id, "image.deleted")
    assert gone.event["data"]["status"] == "deleted"  # type: ignore[index]
    assert gone.headers["webhook-id"] != ready.headers["webhook-id"]
    assert receiver.unverified() == []


def test_a_job_that_cannot_succeed_sends_image_failed(
    service: Service, storage: Storage, receiver: WebhookReceiver
) -> None:
    # Bytes the door would refuse, stored and queued behind its back (as tests/faults do).
    job = job_for_upload(new_image_id(), JPEG, has_alpha=False)
    storage.put(job.original_key, b"\xff\xd8\xff" + bytes(range(256)) * 40, "image/jpeg")
    storage.put(
        status_key(job.image_id),
        encode_status(status_for_job(job)),
        "application/json",
        immutable=False,
    )
    with mock.patch.dict(os.environ, FAKE_AWS_CREDENTIALS):
        open_queue(CommonSettings.from_env(service.env)).send(encode_job(job))
    failed = receiver.wait_for(job.image_id, "image.failed")
    assert failed.event["data"]["status"] == "failed"  # type: ignore[index]
    assert receiver.unverified() == []


def test_a_receiver_failing_twice_gets_the_event_on_the_third_try_with_one_id(
    service: Service, receiver: WebhookReceiver
) -> None:
    receiver.fail_next("image.ready", 2)
    image_id, _, _ = _ready_image(service)
    receiver.wait_for(image_id, "image.ready")
    attempts = receiver.requests_about(image_id)
    assert [a.answered for a in attempts] == [500, 500, 204]
    assert len({a.headers["webhook-id"] for a in attempts}) == 1
    assert len({a.body for a in attempts}) == 1
    retries = [
        line
        for line in service.logs("webhooks")
        if line["msg"] == "webhook delivery failed, will retry"
        and line["webhook_id"] == attempts[0].headers["webhook-id"]
    ]
    assert [line["attempt"] for line in retries] == [1, 2]


def test_an_expired_image_is_gone_everywhere(
    service: Service, storage: Storage, receiver: WebhookReceiver
) -> None:
    image_id, _, urls = _ready_image(service, expires_in="3")
    location = f"{service.base_url}/images/{image_id}"
    before = requests.get(location, timeout=10).json()
    assert before["expires_at"].endswith("Z")
    expired = receiver.wait_for(image_id, "image.expired", timeout=30)
    assert expired.event["data"]["status"] == "expired"  # type: ignore[index]

    answer = requests.get(location, timeout=10)
    assert answer.status_code == 410
    assert answer.json()["status"] == "expired"
    page = requests.get(f"{service.base_url}/i/{image_id}", timeout=10)
    assert page.status_code == 410
    assert "<h1>This image has expired</h1>" in page.text
    for name, url in urls.items():
        assert requests.get(url, timeout=10).status_code in (403, 404, 410), name
    assert _is_gone(storage, image_id, urls)
    assert not any(image_id in key for key in _keys(storage, EXPIRING_PREFIX))
    assert _invalidated(service, image_id)


def test_expires_in_outside_its_bounds_is_a_400_saying_so(service: Service) -> None:
    for value in ("0", "2592001", "soon", "1e3", "-5"):
        response = requests.post(
            f"{service.base_url}/",
            files={"image": ("a.jpg", images.jpeg((32, 32)), "image/jpeg")},
            data={"expires_in": value},
            timeout=30,
        )
        assert response.status_code == 400, value
        assert "expires_in" in response.json()["error"]
    # Without the field, nothing expires and the 202 body is the four URLs.
    plain = upload(service.base_url, images.jpeg((32, 32)))
    assert plain.status_code == 202
    assert list(plain.json()) == ["original", "small", "medium", "large"]
    status = wait_for_status(service.base_url, plain.headers["Location"])
    assert "expires_at" not in status


def test_a_takedown_removes_the_image_with_its_reason(
    service: Service, storage: Storage, receiver: WebhookReceiver
) -> None:
    image_id, _, urls = _ready_image(service)
    reason = "reported: not the uploader's to share"
    done = subprocess.run(
        [sys.executable, "-m", "admin.main", "takedown", image_id, "--reason", reason],
        env=os.environ | service.env,
        capture_output=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    logged = [json.loads(line) for line in done.stderr.splitlines() if line.startswith(b"{")]
    assert any(line["msg"] == "image taken down" and line["reason"] == reason for line in logged)
    deleted = receiver.wait_for(image_id, "image.deleted")
    assert deleted.event["data"]["status"] == "deleted"  # type: ignore[index]
    assert requests.get(f"{service.base_url}/images/{image_id}", timeout=10).status_code == 410
    page = requests.get(f"{service.base_url}/i/{image_id}", timeout=10)
    assert page.status_code == 410
    assert "<h1>This image was taken down</h1>" in page.text
    for url in urls.values():
        assert requests.get(url, timeout=10).status_code in (403, 404, 410)
    assert _is_gone(storage, image_id, urls)
    tombstone = json.loads(storage.get(tombstone_key(image_id)).body)
    assert (tombstone["ending"], tombstone["reason"]) == ("taken_down", reason)
    assert _invalidated(service, image_id)
    again = subprocess.run(
        [sys.executable, "-m", "admin.main", "takedown", image_id, "--reason", reason],
        env=os.environ | service.env,
        capture_output=True,
        timeout=60,
    )
    assert again.returncode == 1
    assert b"taken_down already" in again.stderr


def _keys(storage: Storage, prefix: str) -> list[str]:
    return [item.key for item in storage.list_keys(prefix, limit=1000)]
