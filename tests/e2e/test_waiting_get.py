"""``Prefer: wait=N`` against gunicorn and a real worker: a GET of a pending image waits
for it, waiters are bounded per process, and uploads go through while they are parked."""

import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor

import pytest
import requests

from support import images
from support.client import upload
from support.services import Service, local_env

# One process with one thread of its own and two for waiters: an upload that had to
# share the waiters' threads would not get one while they are parked.
WAITERS = 2
MAX_WAIT = 12
# Bounds the loop that waits for both waiters to be parked.
PARK_TIMEOUT_S = 10.0
MISSING = "/images/AAAAAAAAAAAAAAAAAAAAAA"


@pytest.fixture(scope="module")
def idle_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """The server alone (the test starts the worker when it wants the jobs done)."""
    workdir = tmp_path_factory.mktemp("waiting")
    env = local_env(workdir) | {
        "SHARER_SERVER_PROCESSES": "1",
        "SHARER_SERVER_THREADS": "1",
        "SHARER_WAITERS_PER_PROCESS": str(WAITERS),
        "SHARER_MAX_WAIT_SECONDS": str(MAX_WAIT),
    }
    with Service(env, workdir).running(workers=0) as running:
        yield running


def _prefer(seconds: int) -> dict[str, str]:
    return {"Prefer": f"wait={seconds}"}


def test_a_pending_status_waits_out_its_wait_without_a_worker(idle_service: Service) -> None:
    location = upload(idle_service.base_url, images.jpeg((640, 480))).headers["Location"]
    at_once = requests.get(f"{idle_service.base_url}{location}", timeout=10)
    assert at_once.json()["status"] == "pending"
    assert "Preference-Applied" not in at_once.headers

    began = time.monotonic()
    waited = requests.get(f"{idle_service.base_url}{location}", headers=_prefer(1), timeout=10)
    assert waited.json()["status"] == "pending"
    assert waited.headers["Preference-Applied"] == "wait=1"
    assert time.monotonic() - began >= 1.0


def test_waiters_are_bounded_uploads_pass_them_and_the_worker_wakes_them(
    idle_service: Service,
) -> None:
    base = idle_service.base_url
    first, second, probe = (upload(base, images.jpeg((640, 480), seed=n)) for n in range(3))
    urls = {"status": f"{base}{first.headers['Location']}", "thumbnail": second.json()["small"]}
    with ThreadPoolExecutor(WAITERS) as pool:

        def wait_on(name: str) -> Future[requests.Response]:
            return pool.submit(requests.get, urls[name], headers=_prefer(MAX_WAIT), timeout=30)

        waiting = {name: wait_on(name) for name in urls}
        # Once both are parked, a third wait finds no slot and is answered at once, as
        # without the header. The probe asks after a missing image, so it holds a slot
        # only for a moment; a waiter that arrived in that moment was answered at once
        # (without the header) and is sent again.
        deadline = time.monotonic() + PARK_TIMEOUT_S
        while True:
            for name, future in waiting.items():
                if future.done() and "Preference-Applied" not in future.result().headers:
                    waiting[name] = wait_on(name)
            refused = requests.get(f"{base}{MISSING}", headers=_prefer(1), timeout=10)
            if "Preference-Applied" not in refused.headers or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        on_status, on_thumbnail = waiting["status"], waiting["thumbnail"]
        assert "Preference-Applied" not in refused.headers
        assert refused.status_code == 404
        pending = requests.get(f"{base}{probe.headers['Location']}", headers=_prefer(1), timeout=10)
        assert "Preference-Applied" not in pending.headers
        assert pending.json()["status"] == "pending"

        sent = requests.post(
            f"{base}/", files={"image": ("4.jpg", images.jpeg((320, 240)))}, timeout=5
        )
        assert sent.status_code == 202
        assert not on_status.done()
        assert not on_thumbnail.done()

        idle_service.start_worker()
        status, thumbnail = on_status.result(), on_thumbnail.result()
    assert status.json()["status"] == "ready"
    assert status.headers["Preference-Applied"] == f"wait={MAX_WAIT}"
    assert thumbnail.status_code == 200
    assert thumbnail.headers["Content-Type"] == "image/jpeg"
    assert thumbnail.headers["Preference-Applied"] == f"wait={MAX_WAIT}"


def test_a_wait_longer_than_the_setting_is_capped(idle_service: Service) -> None:
    if not idle_service.workers:  # run alone, not after the test that starts it
        idle_service.start_worker()
    done = upload(idle_service.base_url, images.jpeg((320, 240), seed=9))
    answer = requests.get(
        f"{idle_service.base_url}{done.headers['Location']}",
        headers={"Prefer": "respond-async, wait=600"},
        timeout=30,
    )
    assert answer.headers["Preference-Applied"] == f"wait={MAX_WAIT}"
    assert answer.json()["status"] == "ready"


def test_a_missing_image_is_not_waited_for(idle_service: Service) -> None:
    began = time.monotonic()
    answer = requests.get(
        f"{idle_service.base_url}/media{MISSING}/small.jpg",
        headers=_prefer(MAX_WAIT),
        timeout=30,
    )
    assert answer.status_code == 404
    assert answer.headers["Preference-Applied"] == f"wait={MAX_WAIT}"
    assert time.monotonic() - began < MAX_WAIT / 2
