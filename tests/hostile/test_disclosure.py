"""Public answers say what happened in words; the details (paths, pids, bucket names) go
to the operator's log, with the request or image id to find them by."""

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from support import images
from support.client import upload, wait_for_status
from support.services import Service, local_env


@pytest.fixture
def one_try(tmp_path: Path) -> Iterator[Service]:
    """Server (no worker yet) whose jobs are given up after their first failure."""
    env = local_env(tmp_path) | {"SHARER_MAX_RECEIVES": "1", "SHARER_SERVER_PROCESSES": "1"}
    with Service(env, tmp_path).running() as service:
        yield service


def test_a_failed_image_says_why_without_internal_details(one_try: Service) -> None:
    response = upload(one_try.base_url, images.jpeg((64, 48)))
    assert response.status_code == 202
    image_id = response.headers["Location"].rsplit("/", 1)[1]
    media = Path(one_try.env["SHARER_DATA_DIR"]) / "media" / "images" / image_id
    (media / "small.jpg").mkdir()  # the worker's write fails, with its path in the error
    one_try.start_worker()
    status = wait_for_status(one_try.base_url, response.headers["Location"])
    assert status["status"] == "failed"
    reason = str(status["reason"])
    assert reason == "the thumbnails could not be made after 1 tries"
    logged = [line for line in one_try.logs("worker-0") if line.get("image_id") == image_id]
    assert any(one_try.env["SHARER_DATA_DIR"] in str(line.get("reason")) for line in logged)


def test_health_names_the_failing_backend_but_not_its_location(one_try: Service) -> None:
    media = Path(one_try.env["SHARER_DATA_DIR"]) / "media"
    shutil.rmtree(media)
    media.write_bytes(b"")  # the storage root can no longer be a directory
    try:
        response = requests.get(
            f"{one_try.base_url}/healthz", headers={"X-Request-Id": "health-1"}, timeout=10
        )
    finally:
        media.unlink()
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "storage": "unavailable", "queue": "ok"}
    assert one_try.env["SHARER_DATA_DIR"] not in response.text
    logged = [line for line in one_try.logs("server") if line.get("request_id") == "health-1"]
    assert any(one_try.env["SHARER_DATA_DIR"] in str(line.get("error")) for line in logged)
