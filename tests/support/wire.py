"""HTTP/1.1 by hand over loopback sockets, for requests no well-behaved client sends:
malformed multipart bodies, trickled bytes, bodies larger than announced. Every socket
has a timeout and every loop a bound."""

import contextlib
import json
import select
import socket
import time
from dataclasses import dataclass

TIMEOUT = 10.0


@dataclass
class Answer:
    """A parsed response, and how long it took to arrive."""

    status: int
    headers: dict[str, str]
    body: bytes
    elapsed: float
    sent: int = 0  # body bytes the client had sent when the answer arrived

    def json(self) -> dict[str, object]:
        """The body as a JSON object."""
        doc: dict[str, object] = json.loads(self.body)
        return doc


def part(body: bytes, *, name: bytes = b"image", filename: bytes | None = b"a.jpg") -> bytes:
    """One multipart part (headers and body, no boundary lines)."""
    disposition = b'Content-Disposition: form-data; name="' + name + b'"'
    if filename is not None:
        disposition += b'; filename="' + filename + b'"'
    return disposition + b"\r\nContent-Type: application/octet-stream\r\n\r\n" + body


def multipart(*parts: bytes, boundary: bytes = b"hostile", close: bool = True) -> bytes:
    """A multipart body of ``parts``; without ``close``, the closing boundary is missing."""
    body = b"".join(b"--" + boundary + b"\r\n" + p + b"\r\n" for p in parts)
    return body + (b"--" + boundary + b"--\r\n" if close else b"")


def request_head(
    content_type: bytes | None, length: int | None, *, extra: bytes = b"", path: bytes = b"/"
) -> bytes:
    """The head of a POST; ``length`` None means a chunked body."""
    head = b"POST " + path + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
    if content_type is not None:
        head += b"Content-Type: " + content_type + b"\r\n"
    if length is None:
        head += b"Transfer-Encoding: chunked\r\n"
    else:
        head += b"Content-Length: " + str(length).encode() + b"\r\n"
    return head + extra + b"\r\n"


def post(port: int, body: bytes, content_type: bytes | None) -> Answer:
    """POST ``body`` with ``content_type`` and read the whole answer."""
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as sock:
        # The server may answer (and stop reading) before the body is all sent.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(request_head(content_type, len(body)) + body)
        return read_answer(sock, started)


def read_answer(sock: socket.socket, started: float) -> Answer:
    """Read one response (the server closes, or Content-Length says where it ends)."""
    data = b""
    deadline = started + TIMEOUT
    while b"\r\n\r\n" not in data and time.monotonic() < deadline:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in lines[1:])}
    length = int(headers.get("content-length", "0"))
    while len(body) < length and time.monotonic() < deadline:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    status = int(lines[0].split()[1]) if lines[0].startswith("HTTP/") else 0
    return Answer(status, headers, body, time.monotonic() - started)


def send_until_answered(
    port: int,
    head: bytes,
    body_size: int,
    *,
    chunked: bool,
    step: int = 64 * 1024,
    pause: float = 0.01,
    body_start: bytes = b"",
) -> Answer:
    """Send ``head`` then a body of ``body_size`` bytes (``body_start``, then filler),
    ``step`` at a time with ``pause`` between, stopping as soon as an answer is readable;
    ``Answer.sent`` says how much of the body went out before it came. The pauses keep
    loopback's large buffers from swallowing the whole body before the server had a
    chance to answer."""
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, step)
        sock.sendall(head)
        sent = 0
        while sent < body_size and time.monotonic() - started < TIMEOUT:
            readable, _, _ = select.select([sock], [], [], pause)
            if readable:
                break
            size = min(step, body_size - sent)
            piece = (body_start[sent : sent + size] + b"\xff" * size)[:size]
            frame = f"{size:x}\r\n".encode() + piece + b"\r\n" if chunked else piece
            try:
                sock.sendall(frame)
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += size
        answer = read_answer(sock, started)
        answer.sent = sent
        return answer


def server_closed(sock: socket.socket, wait: float) -> bool:
    """Whether the server has closed ``sock`` (end-of-stream or reset) within ``wait``."""
    readable, _, _ = select.select([sock], [], [], wait)
    if not readable:
        return False
    try:
        return sock.recv(65536) == b""
    except (ConnectionResetError, BrokenPipeError):
        return True
