"""An HTTP client for the service as users drive it: upload, then poll the URLs."""

import time

import requests

POLL_TIMEOUT = 30.0
# The HTTP contract, pinned here on purpose (the server derives it from THUMBNAIL_SIZES):
# the 202 body holds exactly these keys, in this order. A fork adding a size changes it here.
BODY_KEYS = ("original", "small", "medium", "large")


def upload(
    base_url: str, data: bytes, *, filename: str = "4.jpg", **headers: str
) -> requests.Response:
    """POST ``data`` the way the reference client does: an octet-stream part, no Accept."""
    return requests.post(
        f"{base_url}/",
        files={"image": (filename, data, "application/octet-stream")},
        headers=headers,
        timeout=30,
    )


# A client that honours Retry-After, bounded as the reference CLI's policy is.
BUSY_ATTEMPTS = 8


def upload_honouring_busy(base_url: str, data: bytes) -> requests.Response:
    """``upload``, sent again after ``Retry-After`` while the server answers 503 (its
    costly-proof slots busy), as a well-behaved client does; at most ``BUSY_ATTEMPTS``."""
    for _ in range(BUSY_ATTEMPTS - 1):
        response = upload(base_url, data)
        if response.status_code != 503 or "Retry-After" not in response.headers:
            return response
        time.sleep(float(response.headers["Retry-After"]))
    return upload(base_url, data)


def fetch_when_ready(url: str, timeout: float = POLL_TIMEOUT) -> requests.Response:
    """GET ``url`` until it answers 200 (a thumbnail is 404 until the worker made it)."""
    deadline = time.monotonic() + timeout
    while True:
        response = requests.get(url, timeout=10)
        if response.status_code != 404 or time.monotonic() > deadline:
            return response
        time.sleep(0.05)


def wait_for_status(
    base_url: str, location: str, timeout: float = POLL_TIMEOUT
) -> dict[str, object]:
    """Poll the image's status resource until it leaves ``pending``."""
    deadline = time.monotonic() + timeout
    while True:
        doc: dict[str, object] = requests.get(f"{base_url}{location}", timeout=10).json()
        if doc["status"] != "pending" or time.monotonic() > deadline:
            return doc
        time.sleep(0.05)
