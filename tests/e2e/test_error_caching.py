"""Issue 25: no cache may keep an error answer (RFC 9111 4.2.2 lets a proxy cache a 404
or 410 heuristically when it says nothing), so every error says ``no-store``.

Over real HTTP to gunicorn on the embedded backends with no worker, so an upload stays
pending and its thumbnails missing for as long as the test needs.
"""

import socket
import time
from collections.abc import Iterator

import pytest
import requests

from support import images, wire
from support.client import upload
from support.services import Service, local_service

UNKNOWN_ID = "A" * 22


@pytest.fixture(scope="module")
def no_worker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """The server alone: what it accepts stays pending."""
    yield from local_service(tmp_path_factory.mktemp("error-caching"), workers=0)


def _assert_not_cached(response: requests.Response, status: int) -> None:
    assert response.status_code == status, response.text
    assert response.headers["Cache-Control"] == "no-store", response.request.url


def test_unknown_ids_paths_and_methods_are_not_cached(no_worker: Service) -> None:
    base = no_worker.base_url
    _assert_not_cached(requests.get(f"{base}/images/{UNKNOWN_ID}", timeout=10), 404)
    _assert_not_cached(requests.get(f"{base}/images/not-an-id", timeout=10), 404)
    _assert_not_cached(requests.get(f"{base}/i/{UNKNOWN_ID}", timeout=10), 404)
    _assert_not_cached(requests.get(f"{base}/media/images/{UNKNOWN_ID}/small", timeout=10), 404)
    _assert_not_cached(requests.get(f"{base}/no/such/path", timeout=10), 404)
    _assert_not_cached(requests.get(f"{base}/", timeout=10), 405)
    _assert_not_cached(upload(base, images.jpeg(), Accept="text/html"), 406)
    _assert_not_cached(upload(base, b"not an image"), 400)
    _assert_not_cached(requests.delete(f"{base}/images/{UNKNOWN_ID}", timeout=10), 401)


def test_the_answers_nginx_gives_itself_are_not_cached(no_worker: Service) -> None:
    # 414 and 501 are heuristically cacheable (RFC 9110 15.1), and nginx answers both
    # before the app sees the request.
    too_long = requests.get(f"{no_worker.base_url}/{'a' * 20_000}", timeout=10)
    _assert_not_cached(too_long, 414)
    with socket.create_connection(("127.0.0.1", no_worker.port), timeout=10) as sock:
        sock.sendall(
            b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\nConnection: close\r\n\r\n"
        )
        unsupported = wire.read_answer(sock, time.monotonic())
    assert unsupported.status == 501, unsupported.body
    assert unsupported.headers["cache-control"] == "no-store"


def test_a_pending_thumbnail_and_a_deleted_image_are_not_cached(no_worker: Service) -> None:
    base = no_worker.base_url
    accepted = upload(base, images.jpeg())
    assert accepted.status_code == 202
    urls = accepted.json()
    location = accepted.headers["Location"]
    _assert_not_cached(requests.get(urls["small"], timeout=10), 404)
    wrong = requests.delete(
        f"{base}{location}", headers={"Authorization": "Bearer wrong"}, timeout=10
    )
    _assert_not_cached(wrong, 403)
    token = accepted.headers["Delete-Token"]
    deleted = requests.delete(
        f"{base}{location}", headers={"Authorization": f"Bearer {token}"}, timeout=10
    )
    assert deleted.status_code == 204
    _assert_not_cached(requests.get(f"{base}{location}", timeout=10), 410)
    image_id = location.rsplit("/", 1)[1]
    _assert_not_cached(requests.get(f"{base}/i/{image_id}", timeout=10), 410)
    _assert_not_cached(requests.get(urls["original"], timeout=10), 404)
    again = requests.delete(
        f"{base}{location}", headers={"Authorization": f"Bearer {token}"}, timeout=10
    )
    _assert_not_cached(again, 410)
