"""The transport (nginx in front of gunicorn, see server.transport) over real HTTP.

After every class of bad request the server serves on: no process dies or respawns,
and the next ordinary upload gets its 202. Behind proxies, the client is the address the
trusted hops vouch for, in the access log and in the per-client bound alike.
"""

import select
import socket
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from support import images, wire
from support.services import Service, local_service

DEADLINE = 2
JPEG = images.jpeg((64, 48))


@pytest.fixture(scope="module")
def quick(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """The server alone, one process, with a 2 s deadline so slow requests end fast."""
    yield from local_service(
        tmp_path_factory.mktemp("transport"),
        workers=0,
        env={
            "SHARER_SERVER_PROCESSES": "1",
            "SHARER_REQUEST_TIMEOUT": str(DEADLINE),
        },
    )


BAD_REQUESTS = {
    "Content-Length ²": "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: ²\r\n\r\n".encode(),
    "Content-Length ¹": "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: ¹\r\n\r\n".encode(),
    "Content-Length of 4,301 digits": (
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: " + b"9" * 4301 + b"\r\n\r\n"
    ),
    "two Content-Lengths": (
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab"
    ),
    "Content-Length and chunked": (
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
    ),
    "bad chunk size": b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    "chunk without its CRLF": (
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n"
    ),
    "bad request line": b"GET\r\n\r\n",
    "binary request line": b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n",
    "request line of 20 KB": b"GET /" + b"a" * 20_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    "huge headers": b"GET / HTTP/1.1\r\nHost: x\r\n" + b"X-A: " + b"b" * 100_000 + b"\r\n\r\n",
}
# Not UTF-8, but valid HTTP (obs-text): answered as usual.
STRANGE_BUT_VALID = (
    b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: \xff\xfe\xc3\r\nConnection: close\r\n\r\n"
)


def _worker_boots(service: Service) -> int:
    return sum("Booting worker" in str(line.get("msg")) for line in service.logs("server"))


def _serves_on(service: Service, boots: int) -> None:
    assert service.server is not None
    assert service.server.poll() is None
    response = requests.post(f"{service.base_url}/", files={"image": ("a.jpg", JPEG)}, timeout=10)
    assert response.status_code == 202
    assert requests.get(f"{service.base_url}/healthz", timeout=10).status_code == 200
    assert _worker_boots(service) == boots  # no gunicorn process died and respawned


@pytest.mark.parametrize("name", sorted(BAD_REQUESTS))
def test_the_server_serves_on_after_a_bad_request(quick: Service, name: str) -> None:
    boots = _worker_boots(quick)
    with socket.create_connection(("127.0.0.1", quick.port), timeout=wire.TIMEOUT) as sock:
        sock.sendall(BAD_REQUESTS[name])
        answer = wire.read_answer(sock, time.monotonic())
    assert 400 <= answer.status < 500, answer
    assert answer.headers["content-type"] == "application/json"
    assert answer.headers["connection"] == "close"
    assert answer.json()["error"]
    _serves_on(quick, boots)


def test_a_header_that_is_not_utf_8_is_served(quick: Service) -> None:
    boots = _worker_boots(quick)
    with socket.create_connection(("127.0.0.1", quick.port), timeout=wire.TIMEOUT) as sock:
        sock.sendall(STRANGE_BUT_VALID)
        assert wire.read_answer(sock, time.monotonic()).status == 200
    _serves_on(quick, boots)


def test_the_server_serves_on_after_slowloris(quick: Service) -> None:
    boots = _worker_boots(quick)
    socks = [socket.create_connection(("127.0.0.1", quick.port)) for _ in range(20)]
    try:
        for sock in socks:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
        end = time.monotonic() + DEADLINE + 2
        open_socks = list(socks)
        while open_socks and time.monotonic() < end:  # a header line a second, never done
            for sock in open_socks:
                try:
                    sock.sendall(b"X-Slow: a\r\n")
                except OSError:
                    open_socks.remove(sock)
            readable, _, _ = select.select(open_socks, [], [], 1.0)
            open_socks = [sock for sock in open_socks if sock not in readable]
        assert not open_socks, "every slow connection is cut at the deadline"
        _serves_on(quick, boots)
    finally:
        for sock in socks:
            sock.close()


PER_CLIENT = 4
TRUSTED_HOPS = 2  # CloudFront, then the load balancer, on AWS


@pytest.fixture(scope="module")
def behind_proxies(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """The server as on AWS: two trusted proxies in front, a small per-client bound."""
    yield from local_service(
        tmp_path_factory.mktemp("proxied"),
        workers=0,
        env={
            "SHARER_FORWARDED_HOPS": str(TRUSTED_HOPS),
            "SHARER_MAX_CONNECTIONS_PER_CLIENT": str(PER_CLIENT),
        },
    )


def _forwarded(client: str, forged: str = "6.6.6.6") -> str:
    # What the client wrote itself, then what each trusted proxy appended.
    return f"{forged}, {client}, 10.0.0.1"


def test_the_access_log_names_the_client_the_proxies_vouch_for(behind_proxies: Service) -> None:
    response = requests.get(
        f"{behind_proxies.base_url}/healthz",
        headers={"X-Forwarded-For": _forwarded("203.0.113.7"), "X-Request-Id": "fwd-log"},
        timeout=10,
    )
    assert response.status_code == 200
    time.sleep(0.2)  # the access line is written after the answer
    lines = [line for line in behind_proxies.logs("server") if line.get("request_id") == "fwd-log"]
    assert [line["client"] for line in lines] == ["203.0.113.7"]


def _held_upload(service: Service, forwarded: str) -> socket.socket:
    """A connection whose request's headers are in and whose body never comes."""
    sock = socket.create_connection(("127.0.0.1", service.port), timeout=wire.TIMEOUT)
    sock.sendall(
        wire.request_head(
            b"multipart/form-data; boundary=b",
            1000,
            extra=f"X-Forwarded-For: {forwarded}\r\n".encode(),
        )
    )
    return sock


def test_the_per_client_bound_counts_the_forwarded_client(behind_proxies: Service) -> None:
    # Every connection comes from 127.0.0.1 (the balancer, as far as the server knows).
    held = [
        _held_upload(behind_proxies, _forwarded("203.0.113.9", forged=f"6.6.6.{n}"))
        for n in range(PER_CLIENT)
    ]
    try:
        time.sleep(0.3)
        # The same client, whatever it writes on the left, is refused...
        with _held_upload(behind_proxies, _forwarded("203.0.113.9", forged="1.2.3.4")) as extra:
            answer = wire.read_answer(extra, time.monotonic())
        assert answer.status == 429
        assert answer.headers["retry-after"] == "1"
        assert answer.headers["content-type"] == "application/json"
        # ...and another client behind the same proxies is served.
        response = requests.get(
            f"{behind_proxies.base_url}/healthz",
            headers={"X-Forwarded-For": _forwarded("203.0.113.10")},
            timeout=10,
        )
        assert response.status_code == 200
    finally:
        for sock in held:
            sock.close()


def test_an_answer_before_the_body_is_read_still_reaches_the_client(quick: Service) -> None:
    # The app refuses a megabyte it has no use for without reading it; gunicorn must not
    # close on the unread body under nginx (a reset there made nginx answer 502/503).
    body = b"image=" + b"A" * (1024 * 1024)

    def refused(_: int) -> int:
        return wire.post(quick.port, body, b"application/x-www-form-urlencoded").status

    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(refused, range(80)))
    assert statuses == [400] * len(statuses)
