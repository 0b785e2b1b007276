"""A retry that arrives while the first upload under its Idempotency-Key is still being
stored, with real processes: the server's S3 writes go through the fault proxy, which
holds the original's PUT back until the test lets it go."""

from concurrent.futures import ThreadPoolExecutor

import pytest

from faults.backends import AwsBackends
from faults.conftest import Stack
from support import images
from support.client import upload
from support.faults import ProxiedRequest, held
from support.waiting import wait_for

pytestmark = pytest.mark.e2e

# Longer than the test needs: the proxy lets the request go when the test heals it.
HOLD_SECONDS = 15.0


def test_a_retry_during_the_first_upload_is_409_then_the_first_answer(aws_stack: Stack) -> None:
    service, proxy, backends = aws_stack.service, aws_stack.proxy, aws_stack.backends
    assert proxy is not None
    assert isinstance(backends, AwsBackends)
    service.start_server(**aws_stack.via_proxy)
    photo, key = images.jpeg((640, 480), seed=7), {"Idempotency-Key": '"in-flight"'}

    def original_put(request: ProxiedRequest) -> bool:
        return request.method == "PUT" and request.is_s3_object(backends.bucket, "images/")

    proxy.inject(original_put, held(HOLD_SECONDS))
    with ThreadPoolExecutor(max_workers=1) as pool:
        first = pool.submit(upload, service.base_url, photo, **key)
        assert wait_for(lambda: proxy.hits >= 1, timeout=20), "the upload never stored"

        busy = upload(service.base_url, photo, **key)
        assert busy.status_code == 409
        assert busy.headers["Retry-After"] == "1"
        other = upload(service.base_url, images.jpeg((640, 480), seed=8), **key)
        assert other.status_code == 422

        proxy.heal()
        accepted = first.result(timeout=30)

    assert accepted.status_code == 202
    assert "Delete-Token" in accepted.headers
    replayed = upload(service.base_url, photo, **key)
    assert replayed.status_code == 202
    assert replayed.json() == accepted.json()
    assert replayed.headers["Location"] == accepted.headers["Location"]
    assert "Delete-Token" not in replayed.headers
    assert len(backends.keys("status/")) == 1
