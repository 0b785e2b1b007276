"""Malformed and oversized requests, and hostile filenames, over raw sockets to gunicorn.

Each malformed body gets a 4xx with a JSON message saying what is wrong, without the
server waiting for more input; oversized bodies are refused before they are all sent;
and the client's filename has no bearing on where anything is stored.
"""

import json
import re
import socket
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from support import images, wire
from support.memory import process_memory
from support.services import Service

JPEG = images.jpeg((64, 48))
MB5 = 5 * 1024 * 1024
MIB = 1024 * 1024
MULTIPART = b"multipart/form-data; boundary=hostile"
# An answer this late means the server waited for input that was never coming.
PROMPT = 5.0

MALFORMED: dict[str, tuple[bytes | None, bytes, int, str]] = {
    # name: (Content-Type, body, status, words the error must contain)
    "no boundary": (b"multipart/form-data", wire.multipart(wire.part(JPEG)), 400, "boundary"),
    "boundary never closes": (
        MULTIPART,
        wire.multipart(wire.part(JPEG), close=False),
        400,
        "closing boundary",
    ),
    "another boundary": (
        MULTIPART,
        wire.multipart(wire.part(JPEG), boundary=b"other"),
        400,
        "malformed",
    ),
    "part without disposition": (
        MULTIPART,
        b"--hostile\r\nContent-Type: image/jpeg\r\n\r\n" + JPEG + b"\r\n--hostile--\r\n",
        400,
        "malformed",
    ),
    "thousands of parts": (
        MULTIPART,
        wire.multipart(*(wire.part(b"x", name=b"f%d" % n, filename=None) for n in range(5000))),
        413,
        "parts",
    ),
    "huge part header": (
        MULTIPART,
        wire.multipart(wire.part(JPEG, filename=b"a" * (900 * 1024))),
        413,
        "part headers",
    ),
    "two image parts": (
        MULTIPART,
        wire.multipart(wire.part(JPEG), wire.part(JPEG)),
        400,
        "exactly one",
    ),
    "not multipart": (b"image/jpeg", JPEG, 400, "multipart/form-data"),
    "urlencoded megabyte": (
        b"application/x-www-form-urlencoded",
        b"image=" + b"A" * MIB,
        400,
        "multipart/form-data",
    ),
    "no content type": (None, JPEG, 400, "multipart/form-data"),
}


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_a_malformed_body_gets_a_prompt_clear_4xx(local: Service, name: str) -> None:
    content_type, body, status, words = MALFORMED[name]
    answer = wire.post(local.port, body, content_type)
    assert answer.status == status
    assert answer.headers["content-type"] == "application/json"
    assert words in str(answer.json()["error"])
    assert answer.elapsed < PROMPT


def test_memory_stays_flat_under_a_flood_of_malformed_bodies(local: Service) -> None:
    assert local.server is not None
    heavy = [MALFORMED[name] for name in ("thousands of parts", "huge part header")]

    def send(case: tuple[bytes | None, bytes, int, str]) -> int:
        return wire.post(local.port, case[1], case[0]).status

    with ThreadPoolExecutor(8) as pool:  # warm up every process first
        assert set(pool.map(send, heavy * 4)) == {413}
    before = {m.pid: m.peak_kib for m in process_memory(local.server.pid)}
    with ThreadPoolExecutor(8) as pool:
        assert set(pool.map(send, heavy * 20)) == {413}
    after = {m.pid: m.peak_kib for m in process_memory(local.server.pid)}
    assert set(after) == set(before)
    assert max(after[pid] - before[pid] for pid in before) <= 8 * 1024, (before, after)


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_5_mb_body_is_refused_before_it_is_all_sent(local: Service, chunked: bool) -> None:
    head = wire.request_head(MULTIPART, None if chunked else MB5)
    start = b"--hostile\r\n" + wire.part(b"")  # then 5 MB of "image"
    answer = wire.send_until_answered(local.port, head, MB5, chunked=chunked, body_start=start)
    assert answer.status == 413
    assert answer.headers["content-type"] == "application/json"
    # Declared: refused on the headers alone. Chunked: refused once the count passes
    # the limit (1 MiB and the multipart allowance), so about a fifth of it at most.
    assert answer.sent < (MIB if not chunked else 2 * MIB), answer.sent


def _five_mb_image_part() -> Iterator[bytes]:
    """A multipart body with a 5 MB "image", in 64 KiB pieces (a chunked upload)."""
    body = wire.multipart(wire.part(b"\0" * MB5))
    for at in range(0, len(body), 64 * 1024):
        yield body[at : at + 64 * 1024]


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_client_that_sends_everything_before_reading_gets_its_413(
    local: Service, chunked: bool
) -> None:
    # Most HTTP libraries (requests here) read nothing until the body is all sent: the
    # server must close after its early 413 and take in the rest meanwhile, not keep
    # the connection for a next request that would first drain the refused body.
    with requests.Session() as session:
        for _ in range(3):  # the pooled connection would carry the leftovers over
            pieces = _five_mb_image_part()
            response = session.post(
                f"{local.base_url}/",
                data=pieces if chunked else b"".join(pieces),
                headers={"Content-Type": MULTIPART.decode()},
                timeout=PROMPT,
            )
            assert response.status_code == 413
            assert response.headers["Connection"] == "close"
            assert "at most" in response.json()["error"]


def test_answers_to_fully_read_requests_keep_the_connection(local: Service) -> None:
    with requests.Session() as session:
        upload = session.post(
            f"{local.base_url}/", files={"image": ("a.jpg", JPEG)}, timeout=PROMPT
        )
        refused = session.post(
            f"{local.base_url}/", files={"image": ("a.jpg", b"not an image")}, timeout=PROMPT
        )
    assert (upload.status_code, refused.status_code) == (202, 400)
    assert upload.headers["Connection"] == refused.headers["Connection"] == "keep-alive"


HOSTILE_NAMES = {
    "traversal": b"../../../../../../tmp/escaped.jpg",
    "absolute": b"/etc/passwd",
    "nul": b"photo.jpg\x00.html",
    "unicode 10 KB": ("\u202eé中🙂" * 1000).encode(),
    "encoded traversal": b"..%2F..%2Fescaped.jpg",
    "backslashes": b"..\\..\\windows\\escaped.jpg",
}
STORED = re.compile(r"images/(?P<id>[A-Za-z0-9_-]{22})/original\.jpg")


def test_filenames_have_no_bearing_on_storage(local: Service) -> None:
    ids = set()
    for name, filename in HOSTILE_NAMES.items():
        body = wire.multipart(wire.part(JPEG, filename=filename))
        answer = wire.post(local.port, body, MULTIPART)
        assert answer.status == 202, name
        found = STORED.search(str(answer.json()["original"]))
        assert found is not None, name
        ids.add(found["id"])
    assert len(ids) == len(HOSTILE_NAMES)
    # Nothing on disk is named after a client's filename: every object sits under an id.
    media = Path(local.env["SHARER_DATA_DIR"]) / "media"
    stored = [p.relative_to(media).as_posix() for p in media.rglob("*") if p.is_file()]
    for image_id in ids:
        assert f"images/{image_id}/original.jpg" in stored
    for path in Path(local.env["SHARER_DATA_DIR"]).rglob("*"):
        assert "escaped" not in path.name
        assert "passwd" not in path.name
        assert path.name.isascii()
    assert not Path("/tmp/escaped.jpg").exists()


# nginx reads whitespace after a chunk size as the whitespace allowed before a chunk
# extension, so "1000 \r\n" declares a 4,096-byte chunk that nginx waits for (bounded by
# the body timeout), not a malformed one.
BROKEN_CHUNKS = {
    "hex prefix": b"0x5\r\nhello\r\n0\r\n\r\n",
    "chunk without its CRLF": b"5\r\nhelloXX0\r\n\r\n",
    "size that is not hex": b"zz\r\nhello\r\n0\r\n\r\n",
}


@pytest.mark.parametrize("name", sorted(BROKEN_CHUNKS))
def test_broken_chunked_framing_is_a_400_logged_in_one_short_line(
    local: Service, name: str
) -> None:
    rid = "chunks-" + name.replace(" ", "-")
    head = wire.request_head(MULTIPART, None, extra=f"X-Request-Id: {rid}\r\n".encode())
    logged_before = len(local.logs("server"))
    with socket.create_connection(("127.0.0.1", local.port), timeout=wire.TIMEOUT) as sock:
        sock.sendall(head + BROKEN_CHUNKS[name])
        answer = wire.read_answer(sock, time.monotonic())
    assert answer.status == 400
    assert answer.headers["content-type"] == "application/json"
    assert answer.headers["connection"] == "close"
    assert answer.headers["x-request-id"] == rid
    # nginx gives one message for every malformed request; its log line says more.
    assert "not well-formed" in str(answer.json()["error"])
    assert answer.elapsed < PROMPT
    time.sleep(0.2)  # the access line is written after the answer
    new_lines = local.logs("server")[logged_before:]
    ours = [line for line in new_lines if line.get("request_id") == rid]
    assert len(ours) == 1, ours
    assert ours[0]["status"] == 400
    assert not [line for line in new_lines if "exc" in line or line.get("level") == "ERROR"]
    assert len(json.dumps(ours[0])) < 400


MALFORMED_LENGTHS = {
    "superscript two": "²".encode(),
    "superscript one": "¹".encode(),
    "4,301 digits": b"1" * 4301,
}


@pytest.mark.parametrize("name", sorted(MALFORMED_LENGTHS))
def test_a_malformed_content_length_is_a_400_and_the_process_serves_on(
    local: Service, name: str
) -> None:
    head = (
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: "
        + MALFORMED_LENGTHS[name]
        + b"\r\nX-Request-Id: bad-length\r\n\r\n"
    )
    # Uploads in flight on the same processes while the bad requests arrive: none is lost.
    with ThreadPoolExecutor(4) as pool:
        uploads = [
            pool.submit(wire.post, local.port, wire.multipart(wire.part(JPEG)), MULTIPART)
            for _ in range(8)
        ]
        answers = []
        for _ in range(4):  # both server processes take some of them
            with socket.create_connection(("127.0.0.1", local.port), timeout=wire.TIMEOUT) as sock:
                sock.sendall(head)
                answers.append(wire.read_answer(sock, time.monotonic()))
        statuses = [upload.result().status for upload in uploads]
    for answer in answers:
        assert answer.status == 400
        assert answer.headers["content-type"] == "application/json"
        assert answer.headers["connection"] == "close"
        assert "x-request-id" in answer.headers
        assert "error" in answer.json()
    assert statuses == [202] * len(statuses)
    assert not [line for line in local.logs("server") if "Exception in worker process" in str(line)]
