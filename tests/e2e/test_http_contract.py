"""Every status code of the upload contract, over real HTTP to gunicorn."""

import socket
import time

import pytest
import requests

from support import hostile_images, images, wire
from support.client import upload
from support.services import Service

MIB = 1024 * 1024


def test_202_for_an_image_of_exactly_one_mib(service: Service) -> None:
    assert upload(service.base_url, images.jpeg_of_exact_size(MIB)).status_code == 202


def test_413_for_one_byte_more(service: Service) -> None:
    response = upload(service.base_url, images.jpeg_of_exact_size(MIB + 1))
    assert response.status_code == 413
    assert response.headers["Content-Type"] == "application/json"


def _raw_exchange(service: Service, request: bytes) -> bytes:
    """Send ``request`` and return the first bytes the server answers with."""
    with socket.create_connection(("127.0.0.1", service.port), timeout=10) as sock:
        sock.sendall(request)
        return sock.recv(65536)


def test_413_is_sent_instead_of_100_continue_for_a_declared_5_mb_body(service: Service) -> None:
    head = (
        b"POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
        b"Content-Type: multipart/form-data; boundary=b\r\nContent-Length: 5242880\r\n\r\n"
    )
    answer = _raw_exchange(service, head)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:80]
    assert b"100 Continue" not in answer


def test_100_continue_for_a_body_within_the_limit(service: Service) -> None:
    head = (
        b"POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
        b"Content-Type: multipart/form-data; boundary=b\r\nContent-Length: 1000\r\n\r\n"
    )
    assert _raw_exchange(service, head).startswith(b"HTTP/1.1 100 Continue")


def test_413_for_a_chunked_body_past_the_limit(service: Service) -> None:
    # A raw client that reads while it sends: the server answers once its count passes
    # the limit and need not drain the rest (requests would only read after sending all).
    head = wire.request_head(b"multipart/form-data; boundary=b", None)
    start = b"--b\r\n" + wire.part(b"")
    answer = wire.send_until_answered(service.port, head, 5 * MIB, chunked=True, body_start=start)
    assert answer.status == 413
    # Refused once the count passes the limit (1 MiB and the multipart allowance).
    assert answer.sent < 2 * MIB, answer.sent


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH"])
def test_405_with_allow(service: Service, method: str) -> None:
    response = requests.request(method, f"{service.base_url}/", timeout=10)
    assert response.status_code == 405
    assert response.headers["Allow"] == "POST"
    assert response.headers["Content-Type"] == "application/json"


@pytest.mark.parametrize("accept", ["text/html", "application/json;q=0", "image/*"])
def test_406(service: Service, accept: str) -> None:
    response = upload(service.base_url, images.jpeg((64, 48)), Accept=accept)
    assert response.status_code == 406
    assert response.headers["Content-Type"] == "application/json"


@pytest.mark.parametrize("accept", ["*/*", "application/json", "text/html, application/*;q=0.5"])
def test_acceptable_accept_headers(service: Service, accept: str) -> None:
    assert upload(service.base_url, images.jpeg((64, 48)), Accept=accept).status_code == 202


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"GIF89a not really",
        hostile_images.truncated(images.jpeg((300, 200))),
        hostile_images.png_bomb(),
    ],
    ids=["empty", "garbage", "truncated", "bomb"],
)
def test_400_for_bad_images(service: Service, data: bytes) -> None:
    response = upload(service.base_url, data)
    assert response.status_code == 400
    assert response.json()["error"]


def test_400_for_a_wrong_field_name(service: Service) -> None:
    response = requests.post(
        f"{service.base_url}/", files={"file": ("a.jpg", images.jpeg((64, 48)))}, timeout=10
    )
    assert response.status_code == 400
    assert "image" in response.json()["error"]


def test_404_for_an_unknown_image(service: Service) -> None:
    response = requests.get(f"{service.base_url}/images/AAAAAAAAAAAAAAAAAAAAAA", timeout=10)
    assert response.status_code == 404
    assert response.headers["Content-Type"] == "application/json"


def test_healthz_and_request_ids(service: Service) -> None:
    response = requests.get(
        f"{service.base_url}/healthz", headers={"X-Request-Id": "r-1"}, timeout=10
    )
    assert response.status_code == 200
    assert response.headers["X-Request-Id"] == "r-1"
    access = [line for line in service.logs() if line.get("request_id") == "r-1"]
    assert access
    assert access[0]["status"] == 200


def _media_base(service: Service) -> str:
    """Where the service's configuration says images are fetched."""
    return service.env.get("SHARER_PUBLIC_BASE_URL", f"{service.base_url}/media")


FORGED = {
    "Host": "evil.example",
    "X-Forwarded-Host": "evil.example",
    "X-Forwarded-Proto": "gopher",
    "Forwarded": "host=evil.example;proto=gopher",
}


@pytest.mark.parametrize("host", ["evil.example", "evil.example:1"])
def test_urls_come_from_configuration_never_from_the_request(service: Service, host: str) -> None:
    headers = FORGED | {"Host": host}
    response = upload(service.base_url, images.jpeg((64, 48)), **headers)
    assert response.status_code == 202
    urls = response.json()
    for url in urls.values():
        assert url.startswith(_media_base(service) + "/images/"), url
    status = requests.get(
        f"{service.base_url}{response.headers['Location']}", headers=headers, timeout=10
    ).json()
    assert set(status["urls"].values()) >= set(urls.values())
    assert "evil" not in str(status)


@pytest.mark.parametrize("host", ["bad host[", ""])
def test_a_malformed_host_is_refused_before_the_app(service: Service, host: str) -> None:
    # RFC 9112, section 3.2: an HTTP/1.1 request whose Host is not a valid host is answered
    # 400; nginx does so for an empty one too (the request's target is ours, so the Host
    # must name it).
    response = upload(service.base_url, images.jpeg((64, 48)), **FORGED | {"Host": host})
    assert response.status_code == 400
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["X-Request-Id"]
    assert "evil" not in response.text


@pytest.mark.parametrize(
    "path", ["//healthz", "//evil.example/images", "//images//x", "/healthz//"]
)
def test_double_slashes_never_redirect_to_the_host_header(service: Service, path: str) -> None:
    response = requests.get(
        f"{service.base_url}{path}",
        headers={"Host": "evil.example"},
        allow_redirects=False,
        timeout=10,
    )
    assert "evil" not in response.headers.get("Location", "")
    assert not response.is_redirect
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["X-Request-Id"]


@pytest.mark.parametrize("path", ["/healthz", "/images/AAAAAAAAAAAAAAAAAAAAAA", "/"])
def test_options_answers_json(service: Service, path: str) -> None:
    response = requests.options(f"{service.base_url}{path}", timeout=10)
    assert response.status_code == 405
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["X-Request-Id"]
    assert "Allow" in response.headers


TRANSPORT_REFUSALS = {
    "request line too long": (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
    # nginx bounds the head by its size (8 buffers of 8 KiB), not by a count of fields.
    "headers too large in all": (
        b"GET / HTTP/1.1\r\nHost: x\r\n" + (b"X-A: " + b"b" * 1000 + b"\r\n") * 70 + b"\r\n",
        431,
    ),
    "header too large": (b"GET / HTTP/1.1\r\nHost: x\r\nX-A: " + b"b" * 9000 + b"\r\n\r\n", 431),
    "bad request line": (b"GET\r\n\r\n", 400),
    "bad header name": (b"GET / HTTP/1.1\r\nHost: x\r\nBad Name: y\r\n\r\n", 400),
    "no Host in HTTP/1.1": (b"GET /healthz HTTP/1.1\r\n\r\n", 400),
    "unknown coding": (
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: bogus\r\n\r\n",
        501,
    ),
}


@pytest.mark.parametrize("name", sorted(TRANSPORT_REFUSALS))
def test_refusals_before_the_app_are_json_with_a_request_id(service: Service, name: str) -> None:
    request, status = TRANSPORT_REFUSALS[name]
    with socket.create_connection(("127.0.0.1", service.port), timeout=10) as sock:
        sock.sendall(request)
        answer = wire.read_answer(sock, time.monotonic())
    assert answer.status == status
    assert answer.headers["content-type"] == "application/json"
    assert answer.headers["x-request-id"]
    assert answer.json()["error"]


def test_pipelined_requests_are_answered_in_order(service: Service) -> None:
    # The second request arrives with the first: it is read ahead, and served next.
    first = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Request-Id: first\r\n\r\n"
    second = (
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Request-Id: second\r\nConnection: close\r\n\r\n"
    )
    received = b""
    with socket.create_connection(("127.0.0.1", service.port), timeout=10) as sock:
        sock.sendall(first + second)
        while chunk := sock.recv(65536):  # until the server closes after the second
            received += chunk
    assert received.count(b"HTTP/1.1 200 OK") == 2
    assert 0 < received.index(b"X-Request-Id: first") < received.index(b"X-Request-Id: second")
