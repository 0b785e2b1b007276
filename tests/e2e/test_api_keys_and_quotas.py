"""API keys, quotas and metrics over real HTTP: two servers (nginx and gunicorn each)
sharing one quota store (SQLite in their data directory, then DynamoDB on moto's
server), and one worker.

Both servers require a key (``SHARER_API_KEYS=required``); keys are made and revoked
with ``sharer-admin``, as an operator does. Server A serves ``/metrics`` on an address
of its own (``SHARER_METRICS_BIND``).
"""

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from support import wire
from support.client import fetch_when_ready, upload
from support.images import jpeg
from support.quota_store import create_quota_table
from support.services import (
    FAKE_AWS_CREDENTIALS,
    Service,
    free_port,
    local_env,
    moto_server,
    stop_processes,
)
from support.waiting import wait_for

pytestmark = pytest.mark.e2e

# A key's uploads per minute in these tests, and a window margin: a test that needs its
# uploads in one minute window starts in a fresh one when fewer seconds than this remain.
TWO_PER_MINUTE = 2
WINDOW_MARGIN_SECONDS = 12
SPREAD_REQUESTS = 12


class TwoServers:
    """Servers A and B on one data directory, and where A serves its metrics."""

    def __init__(self, a: Service, b: Service, metrics_url: str) -> None:
        self.a = a
        self.b = b
        self.metrics_url = metrics_url

    def admin(self, *arguments: str) -> subprocess.CompletedProcess[str]:
        """Run ``sharer-admin`` with the servers' settings."""
        return subprocess.run(
            [sys.executable, "-m", "admin", *arguments],
            env=os.environ | self.a.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    def new_key(self, name: str, *options: str) -> str:
        """A key made by ``sharer-admin keys create``: the one line it prints."""
        made = self.admin("keys", "create", "--name", name, *options)
        assert made.returncode == 0, made.stderr
        return made.stdout.strip()


@pytest.fixture(scope="module", params=["sqlite", "dynamodb"])
def servers(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TwoServers]:
    """The two servers on a quota store of each kind: SQLite in their data directory, or
    a DynamoDB table on moto's server (shaped as the stack makes it)."""
    workdir = tmp_path_factory.mktemp(f"quotas-{request.param}")
    env = local_env(workdir) | {"SHARER_API_KEYS": "required"}
    with ExitStack() as stack:
        if request.param == "dynamodb":
            endpoint = stack.enter_context(moto_server(workdir))
            create_quota_table(endpoint, "quotas")
            env |= FAKE_AWS_CREDENTIALS | {
                "SHARER_QUOTA_STORE_URL": "dynamodb://quotas",
                "SHARER_AWS_ENDPOINT_URL": endpoint,
            }
        metrics_port = free_port()
        a = Service(env, _logs(workdir / "a"))
        b = Service(env, _logs(workdir / "b"))
        stack.callback(lambda: stop_processes([p for p in (a.server, *a.workers, b.server) if p]))
        a.start_server(SHARER_METRICS_BIND=f"127.0.0.1:{metrics_port}")
        a.start_worker()
        b.start_server()
        yield TwoServers(a, b, f"http://127.0.0.1:{metrics_port}/metrics")


def _logs(path: Path) -> Path:
    path.mkdir()
    return path


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def in_one_window() -> None:
    """Start in a fresh minute window if this one is about to end (bounded wait)."""
    left = 60 - time.time() % 60
    if left < WINDOW_MARGIN_SECONDS:
        time.sleep(left + 0.1)


def test_third_upload_of_a_two_per_minute_key_is_refused_across_servers(
    servers: TwoServers,
) -> None:
    key = servers.new_key("two-a-minute", "--uploads-per-minute", str(TWO_PER_MINUTE))
    in_one_window()

    first = upload(servers.a.base_url, jpeg(seed=1), **bearer(key))
    second = upload(servers.b.base_url, jpeg(seed=2), **bearer(key))
    third = upload(servers.a.base_url, jpeg(seed=3), **bearer(key))

    assert [first.status_code, second.status_code, third.status_code] == [202, 202, 429]
    for answer in (first, second, third):
        assert answer.headers["RateLimit-Policy"] == (
            '"uploads";q=2;w=60, "upload-bytes";q=1073741824;qu="content-bytes";w=86400'
        )
    assert first.headers["RateLimit"].startswith('"uploads";r=1;t=')
    assert second.headers["RateLimit"].startswith('"uploads";r=0;t=')
    assert third.headers["RateLimit"].startswith('"uploads";r=0;t=')
    assert third.headers["Content-Type"] == "application/json"
    assert "uploads quota" in third.json()["error"]
    retry_after = int(third.headers["Retry-After"])
    assert 1 <= retry_after <= 60
    # The refused upload was not counted: the day's bytes are the two accepted ones.
    bytes_left = int(third.headers["RateLimit"].split('"upload-bytes";r=')[1].split(";")[0])
    assert bytes_left == 1073741824 - sum(
        int(a.request.headers["Content-Length"]) for a in (first, second)
    )


def test_a_revoked_key_fails_at_once_on_both_servers(servers: TwoServers) -> None:
    key = servers.new_key("soon-revoked")
    accepted = upload(servers.a.base_url, jpeg(seed=4), **bearer(key))
    assert accepted.status_code == 202

    revoked = servers.admin("keys", "revoke", "soon-revoked")
    assert revoked.returncode == 0, revoked.stderr

    for base_url in (servers.a.base_url, servers.b.base_url):
        refused = upload(base_url, jpeg(seed=5), **bearer(key))
        assert refused.status_code == 401
        assert refused.headers["WWW-Authenticate"].startswith("Bearer")
        assert "unknown or revoked" in refused.json()["error"]
    listed = servers.admin("keys", "list")
    assert "soon-revoked" in listed.stdout
    assert key not in listed.stdout
    # The image's delete token alone still deletes it, with no key at all.
    deleted = requests.delete(
        servers.a.base_url + accepted.headers["Location"],
        headers={"Authorization": f"Bearer {accepted.headers['Delete-Token']}"},
        timeout=30,
    )
    assert deleted.status_code == 204


def test_without_a_key_uploads_are_refused_and_the_page_asks_for_one(
    servers: TwoServers,
) -> None:
    refused = upload(servers.b.base_url, jpeg(seed=6))

    assert refused.status_code == 401
    assert refused.headers["WWW-Authenticate"] == "Bearer realm=uploads"
    page = requests.get(f"{servers.b.base_url}/upload", timeout=30)
    assert 'id="api-key"' in page.text


def scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of the metrics at ``url``, parsed by prometheus-client's parser."""
    answer = requests.get(url, timeout=30)
    assert answer.status_code == 200
    assert answer.headers["Content-Type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
    }


def test_metrics_parse_and_move_with_the_traffic(servers: TwoServers) -> None:
    key = servers.new_key("metrics", "--uploads-per-minute", "1")
    in_one_window()
    before = scrape(servers.metrics_url)

    accepted = upload(servers.a.base_url, jpeg(seed=7), **bearer(key))
    refused = upload(servers.a.base_url, jpeg(seed=8), **bearer(key))
    assert (accepted.status_code, refused.status_code) == (202, 429)
    assert fetch_when_ready(accepted.json()["small"]).status_code == 200
    # Enough requests that both gunicorn processes answer some: the scrape must add up
    # every process's counts, not only its own.
    for _ in range(SPREAD_REQUESTS):
        assert requests.get(f"{servers.a.base_url}/healthz", timeout=30).status_code == 200
    deadline = time.monotonic() + 30
    while True:
        after = scrape(servers.metrics_url)
        made = after.get(("sharer_thumbnails_made_total", ()), 0.0)
        if made - before.get(("sharer_thumbnails_made_total", ()), 0.0) >= 3:
            break
        assert time.monotonic() < deadline, "the worker's counters never moved"
        time.sleep(0.1)

    def moved(name: str, **labels: str) -> float:
        sample = (name, tuple(sorted(labels.items())))
        return after.get(sample, 0.0) - before.get(sample, 0.0)

    assert moved("sharer_uploads_total", status="202") == 1
    assert moved("sharer_uploads_total", status="429") == 1
    assert moved("sharer_quota_refusals_total", policy="uploads") == 1
    # The refused upload never reached the upload route: nginx refused it on the
    # admission route's word, before its body was read.
    assert moved("sharer_request_duration_seconds_count", route="/") == 1
    assert moved("sharer_request_duration_seconds_count", route="/_sharer_admission") == 2
    assert moved("sharer_request_duration_seconds_count", route="/healthz") == SPREAD_REQUESTS
    assert moved("sharer_thumbnail_ready_latency_seconds_count") == 1
    assert ("sharer_queue_messages", (("state", "visible"),)) in after
    assert ("sharer_queue_oldest_age_seconds", ()) in after
    assert ("sharer_waiters_in_use", ()) in after
    # Only on its own address: the public one answers 404.
    public = requests.get(f"{servers.a.base_url}/metrics", timeout=30)
    assert public.status_code == 404
    assert public.headers["Content-Type"] == "application/json"


# A declared body the client never sends: an answer to its head alone was decided before
# the body was read.
UNSENT_BODY_BYTES = 500_000


def answer_to_head(service: Service, *headers: str) -> wire.Answer:
    """The server's answer to the head of an upload (``Expect: 100-continue``, a body of
    UNSENT_BODY_BYTES declared and never sent); it must be the first and only one (no
    ``100 Continue`` before it) and name each header once."""
    head = wire.request_head(
        b"multipart/form-data; boundary=b",
        UNSENT_BODY_BYTES,
        extra=b"Expect: 100-continue\r\n" + "".join(f"{h}\r\n" for h in headers).encode(),
    )
    with socket.create_connection(("127.0.0.1", service.port), timeout=wire.TIMEOUT) as sock:
        sock.sendall(head)
        raw = b""
        deadline = time.monotonic() + wire.TIMEOUT
        while not _whole_answer(raw):
            assert time.monotonic() < deadline, raw
            chunk = sock.recv(65536)
            assert chunk, raw
            raw += chunk
    head_part, _, body = raw.partition(b"\r\n\r\n")
    lines = head_part.decode("latin-1").split("\r\n")
    assert lines[0].startswith("HTTP/1.1 4"), raw[:80]
    fields = [
        (name.strip(), value.strip())
        for name, _, value in (line.partition(":") for line in lines[1:])
    ]
    names = [name.lower() for name, _ in fields]
    assert len(names) == len(set(names)), fields
    return wire.Answer(int(lines[0].split()[1]), dict(fields), body, 0.0)


def _whole_answer(raw: bytes) -> bool:
    head, found, body = raw.partition(b"\r\n\r\n")
    if not found:
        return False
    length = next(
        (
            int(line.split(b":")[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        ),
        0,
    )
    return len(body) >= length


def test_over_quota_is_refused_before_the_body_is_read(servers: TwoServers) -> None:
    key = servers.new_key("one-a-minute", "--uploads-per-minute", "1")
    in_one_window()
    assert upload(servers.a.base_url, jpeg(seed=9), **bearer(key)).status_code == 202

    refused = answer_to_head(servers.b, f"Authorization: Bearer {key}")

    assert refused.status == 429
    assert refused.headers["Content-Type"] == "application/json"
    assert refused.headers["Cache-Control"] == "no-store"
    assert refused.json() == {"error": "over your uploads quota; retry after the window resets"}
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert refused.headers["RateLimit-Policy"].startswith('"uploads";q=1;w=60, ')
    assert refused.headers["RateLimit"].startswith('"uploads";r=0;t=')
    # One request id for the answer, the app's line about its admission and nginx's
    # about its answer (relayed by sharer-server: awaited, bounded).
    expected = {("/_sharer_admission", 403), ("POST / HTTP/1.1", 429)}
    request_id = refused.headers["X-Request-Id"]
    assert wait_for(lambda: logged(servers.b, request_id) == expected, timeout=10), logged(
        servers.b, request_id
    )


def logged(service: Service, request_id: str) -> set[tuple[object, object]]:
    """What the server's log lines with ``request_id`` say: (path or request, status)."""
    return {
        (line.get("path") or line.get("request"), line.get("status"))
        for line in service.logs("server")
        if line.get("request_id") == request_id
    }


@pytest.mark.parametrize("sent", ["no key", "an unknown key", "a revoked key"])
def test_a_missing_or_bad_key_is_refused_before_the_body_is_read(
    servers: TwoServers, sent: str
) -> None:
    headers = []
    if sent == "an unknown key":
        headers = ["Authorization: Bearer mlis_not-a-key"]
    if sent == "a revoked key":
        key = servers.new_key("revoked-before-its-upload")
        assert servers.admin("keys", "revoke", "revoked-before-its-upload").returncode == 0
        headers = [f"Authorization: Bearer {key}"]

    refused = answer_to_head(servers.a, *headers)

    assert refused.status == 401
    assert refused.headers["WWW-Authenticate"] == "Bearer realm=uploads"
    assert refused.headers["Content-Type"] == "application/json"
    assert refused.headers["Cache-Control"] == "no-store"
    reason = "send an API key" if sent == "no key" else "that API key is unknown or revoked"
    assert str(refused.json()["error"]).startswith(reason + ": Authorization: Bearer <key>")


def test_a_valid_key_gets_its_100_continue(servers: TwoServers) -> None:
    key = servers.new_key("continues")
    head = wire.request_head(
        b"multipart/form-data; boundary=b",
        UNSENT_BODY_BYTES,
        extra=f"Expect: 100-continue\r\nAuthorization: Bearer {key}\r\n".encode(),
    )
    with socket.create_connection(("127.0.0.1", servers.a.port), timeout=wire.TIMEOUT) as sock:
        sock.sendall(head)
        assert sock.recv(65536).startswith(b"HTTP/1.1 100 Continue")


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_the_admission_route_is_not_reachable_from_outside(
    servers: TwoServers, method: str
) -> None:
    answer = requests.request(
        method,
        f"{servers.a.base_url}/_sharer_admission",
        headers={"X-Sharer-Method": "POST"},
        timeout=30,
    )
    assert answer.status_code == 404
    assert answer.headers["Content-Type"] == "application/json"
    assert answer.json() == {"error": "not found"}


def test_a_day_of_bytes_is_refused_from_the_declared_length(servers: TwoServers) -> None:
    key = servers.new_key("small-days", "--bytes-per-day", str(UNSENT_BODY_BYTES - 1))

    refused = answer_to_head(servers.a, f"Authorization: Bearer {key}")

    assert refused.status == 429
    assert "upload-bytes quota" in str(refused.json()["error"])
    assert f'"upload-bytes";r={UNSENT_BODY_BYTES - 1};t=' in refused.headers["RateLimit"]


def test_the_contract_order_holds_before_the_key(servers: TwoServers) -> None:
    # 405 and 406 come before the 401, as the upload route has them.
    not_post = requests.get(f"{servers.a.base_url}/", timeout=30)
    not_json = upload(servers.a.base_url, jpeg(seed=10), Accept="text/html")

    assert (not_post.status_code, not_post.headers["Allow"]) == (405, "POST")
    assert not_json.status_code == 406
