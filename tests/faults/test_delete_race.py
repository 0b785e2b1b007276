"""A delete while the worker is still writing the image wins, with real processes.

The worker talks to S3 through the fault proxy, which holds back one of its writes (a
thumbnail, or the ready status) until the delete has answered 204. When the held write
lands, the worker finds the tombstone and removes what it wrote: nothing of the image is
left and its status stays gone.
"""

import pytest
import requests

from faults.backends import AwsBackends
from faults.conftest import Stack
from support import images
from support.client import upload
from support.faults import ProxiedRequest, held
from support.waiting import wait_for

pytestmark = pytest.mark.e2e

# Longer than the test needs: the proxy lets the request go when the test heals it.
HOLD_SECONDS = 30.0


@pytest.mark.parametrize("held_key", ["/large.", "status/"])
def test_a_delete_during_processing_leaves_nothing(aws_stack: Stack, held_key: str) -> None:
    service, proxy, backends = aws_stack.service, aws_stack.proxy, aws_stack.backends
    assert proxy is not None
    assert isinstance(backends, AwsBackends)
    service.start_server()
    service.start_worker(**aws_stack.via_proxy)

    def worker_write(request: ProxiedRequest) -> bool:
        return (
            request.method == "PUT"
            and request.is_s3_object(backends.bucket)
            and held_key in request.path
        )

    proxy.inject(worker_write, held(HOLD_SECONDS))
    response = upload(service.base_url, images.jpeg((1200, 900)))
    assert response.status_code == 202
    location = response.headers["Location"]
    image_id = location.rsplit("/", 1)[1]
    assert wait_for(lambda: proxy.hits >= 1, timeout=20), "the worker never reached the write"

    deleted = requests.delete(
        f"{service.base_url}{location}",
        headers={"Authorization": f"Bearer {response.headers['Delete-Token']}"},
        timeout=30,
    )
    assert deleted.status_code == 204
    proxy.heal()  # the held write lands now, after the delete

    assert wait_for(
        lambda: bool(aws_stack.logged("worker-0", "image deleted while its job ran")), timeout=20
    )
    assert backends.keys(f"images/{image_id}/") == []
    assert backends.keys(f"status/{image_id}") == []
    assert backends.keys(f"pending/{image_id}") == []
    assert backends.keys(f"deleted/{image_id}") == [f"deleted/{image_id}.json"]
    assert requests.get(f"{service.base_url}{location}", timeout=10).status_code == 410
    for url in response.json().values():
        assert requests.get(url, timeout=10).status_code in (403, 404)
    assert wait_for(lambda: backends.in_flight() == 0, timeout=20)  # the job ended
