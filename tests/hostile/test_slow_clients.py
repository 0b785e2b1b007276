"""Slow, silent and lingering clients cannot hold the server (see server.request_deadline).

A server with one process of two threads and a 2 s request deadline, so that a handful
of hostile connections would take every thread if they could. Each test measures how
long ordinary requests take meanwhile; before the fix each of these starved the server
(for as long as the clients liked, or for 5 or 2 s per connection).
"""

import socket
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from support import wire
from support.services import Service, local_env

DEADLINE = 2
THREADS = 2
# Worst wait for a thread: a deadline, plus a second until the main loop checks it.
SERVED_WITHIN = DEADLINE + 2.0


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """The server alone: one process, two threads, 2 s per request."""
    workdir = tmp_path_factory.mktemp("slow")
    env = local_env(workdir) | {
        "SHARER_SERVER_PROCESSES": "1",
        "SHARER_SERVER_THREADS": str(THREADS),
        "SHARER_REQUEST_TIMEOUT": str(DEADLINE),
    }
    with Service(env, workdir).running() as service:
        yield service


def _served_meanwhile(service: Service, seconds: float) -> list[float]:
    """Time ordinary health checks, one every 0.25 s for ``seconds``; all must be 200."""
    latencies = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        started = time.monotonic()
        response = requests.get(f"{service.base_url}/healthz", timeout=30)
        assert response.status_code == 200
        latencies.append(time.monotonic() - started)
        time.sleep(0.25)
    return latencies


def _trickle(port: int, head: bytes, drip: bytes, limit: float) -> float | None:
    """Send ``head``, then ``drip`` one byte per 0.1 s; return when the server cut the
    connection (seconds after connecting), or None if it had not within ``limit``."""
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=wire.TIMEOUT) as sock:
        sock.sendall(head)
        for byte in drip:
            if time.monotonic() - started > limit:
                return None
            try:
                sock.sendall(bytes([byte]))
            except (BrokenPipeError, ConnectionResetError):
                return time.monotonic() - started
            if wire.server_closed(sock, 0.1):
                return time.monotonic() - started
    return None


def test_trickling_clients_are_cut_off_and_others_are_served(small: Service) -> None:
    header = (b"POST / HTTP/1.1\r\nHost: x\r\n", b"X-Slow: " + b"a" * 4000)
    body = (
        wire.request_head(b"multipart/form-data; boundary=b", 100_000),
        b"--b\r\n" + b"x" * 100_000,
    )
    trick = [header, body, header]  # more than there are threads
    limit = 3 * (DEADLINE + 2.0)
    with ThreadPoolExecutor(len(trick)) as pool:
        cuts = [pool.submit(_trickle, small.port, head, drip, limit) for head, drip in trick]
        time.sleep(0.5)
        latencies = _served_meanwhile(small, 2 * DEADLINE + 1)
        cut_after = [c.result() for c in cuts]
    assert max(latencies) < SERVED_WITHIN, latencies
    # Every trickler was cut: two at once, the third once it got a thread in its turn.
    assert all(c is not None for c in cut_after), cut_after
    warnings = [line for line in small.logs() if "not done within" in str(line.get("msg"))]
    assert len(warnings) >= len(trick)


def test_silent_connections_take_no_thread(small: Service) -> None:
    silent = [socket.create_connection(("127.0.0.1", small.port)) for _ in range(3 * THREADS)]
    try:
        time.sleep(0.5)
        latencies = _served_meanwhile(small, 1.0)
    finally:
        for sock in silent:
            sock.close()
    # Before: each silent connection held a thread for 5 s, so the first check waited 15 s.
    assert max(latencies) < 1.0, latencies


def test_clients_that_never_close_do_not_freeze_the_server(small: Service) -> None:
    lingering = []
    try:
        for _ in range(3 * THREADS):
            sock = socket.create_connection(("127.0.0.1", small.port))
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            lingering.append(sock)  # never read, never closed (until the test ends)
        time.sleep(0.2)
        latencies = _served_meanwhile(small, 1.0)
    finally:
        for sock in lingering:
            sock.close()
    # Before: the main loop waited 2 s on each in turn, 12 s in all.
    assert max(latencies) < SERVED_WITHIN, latencies


def test_a_request_within_the_deadline_is_untouched(small: Service) -> None:
    # A slow but steady upload that ends before the deadline gets its answer.
    head = wire.request_head(b"multipart/form-data; boundary=b", 2000)
    answer = wire.send_until_answered(
        small.port, head, 2000, chunked=False, step=100, pause=DEADLINE * 0.6 / 20
    )
    assert answer.status == 400  # the body is junk; what matters is that it was answered
    assert answer.sent == 2000
