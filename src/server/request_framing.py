"""Where an HTTP/1.1 request ends, found as its bytes arrive.

The worker's event loop (``server.request_deadline``) feeds a ``RequestCollector`` what
each non-blocking ``recv`` returns, and hands the connection to a pool thread only once
the collector says the request is ``READY``: so the application's threads never wait on
a client. The collector only finds the request's end; gunicorn's own parser, run on the
collected bytes in the thread, stays the judge of what is valid. Whenever the framing is
unclear (a malformed length, an unknown transfer coding, a broken chunk) the request is
``READY`` at once, so that gunicorn answers with its error without waiting for more.
"""

import enum

# The headers of one request, at most (request line included); more is answered 431. Far
# above what browsers and HTTP libraries send, far below gunicorn's own field limits
# multiplied out, which would let each waiting connection hold half a megabyte.
MAX_HEAD_BYTES = 64 * 1024
# A chunked body past the limit is handed over once this much more than the limit is in:
# the application reads it in blocks (Werkzeug's are 64 KiB) until it passes the limit,
# and must find each block whole in the collected bytes, never wait on the socket.
OVER_LIMIT_MARGIN = 128 * 1024
# A chunk-size line (hex digits and extensions) longer than this is malformed.
MAX_CHUNK_LINE = 1024


class Collected(enum.Enum):
    """What the event loop should do with a connection after feeding it bytes."""

    MORE = "more"  # keep reading
    READY = "ready"  # hand the collected bytes to a thread
    HEAD_TOO_LARGE = "head too large"  # answer 431 and close


class RequestCollector:
    """The bytes of one request (and any read past its end), as they arrive."""

    def __init__(self, *, max_body: int, initial: bytes = b"") -> None:
        self.data = bytearray()
        self.max_body = max_body
        self._head_end: int | None = None
        self._headers: dict[str, list[str]] = {}
        self._version = ""
        self._length: int | None = None  # declared body length, if any
        self._chunks: _ChunkScanner | None = None
        self._verdict = Collected.MORE
        if initial:
            self.feed(initial)

    @property
    def head_complete(self) -> bool:
        """Whether the request line and headers have all arrived."""
        return self._head_end is not None

    def header(self, name: str) -> list[str]:
        """Every value of header ``name`` (lower case), once the head is complete."""
        return self._headers.get(name, [])

    @property
    def wants_continue(self) -> bool:
        """Whether the client waits for ``100 Continue`` before sending a body we accept.

        Never for a body declared over the limit: that one is refused with 413 instead.
        """
        if self._head_end is None or self._verdict is not Collected.MORE:
            return False
        expect = [value.strip().lower() for value in self.header("expect")]
        waiting = len(self.data) == self._head_end  # nothing of the body sent yet
        return self._version == "HTTP/1.1" and expect == ["100-continue"] and waiting

    def feed(self, chunk: bytes) -> Collected:
        """Add ``chunk``; say whether the request is complete."""
        if self._verdict is not Collected.MORE:
            self.data += chunk  # read ahead of the next request: kept for it
            return self._verdict
        searched = max(0, len(self.data) - 3)
        self.data += chunk
        if self._head_end is None:
            self._verdict = self._find_head(searched)
        if self._head_end is not None and self._verdict is Collected.MORE:
            self._verdict = self._find_body_end()
        return self._verdict

    def _find_head(self, searched: int) -> Collected:
        crlf = self.data.find(b"\r\n\r\n", searched)
        bare = self.data.find(b"\n\n", searched)
        ends = [end + size for end, size in ((crlf, 4), (bare, 2)) if end >= 0]
        if not ends:
            if len(self.data.lstrip(b"\r\n")) > MAX_HEAD_BYTES:
                return Collected.HEAD_TOO_LARGE
            return Collected.MORE
        self._head_end = min(ends)
        if self._head_end > MAX_HEAD_BYTES + 4:
            return Collected.HEAD_TOO_LARGE
        return self._parse_head(bytes(self.data[: self._head_end]))

    def _parse_head(self, head: bytes) -> Collected:
        lines = head.decode("latin-1").replace("\r\n", "\n").strip("\n").split("\n")
        self._version = lines[0].rpartition(" ")[2]
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if not sep:
                return Collected.READY  # malformed: gunicorn says so
            self._headers.setdefault(name.strip().lower(), []).append(value.strip())
        lengths = self.header("content-length")
        codings = self.header("transfer-encoding")
        if codings:
            if lengths or len(codings) > 1 or codings[0].lower() != "chunked":
                return Collected.READY  # gunicorn refuses or decides; nothing to wait for
            self._chunks = _ChunkScanner(self._head_end or 0)
            return Collected.MORE
        if not lengths:
            return Collected.READY  # no body
        # ASCII digits only (str.isdigit admits "²", which int() refuses), and few
        # enough that int() takes them: anything else is gunicorn's to refuse.
        if len(lengths) > 1 or not _is_length(lengths[0]):
            return Collected.READY
        self._length = int(lengths[0])
        if self._length > self.max_body:
            return Collected.READY  # refused with 413 before a byte of it is read
        return Collected.MORE

    def _find_body_end(self) -> Collected:
        assert self._head_end is not None
        if self._chunks is not None:
            return self._chunks.scan(self.data, self.max_body)
        if self._length is None or len(self.data) - self._head_end >= self._length:
            return Collected.READY
        return Collected.MORE


# More digits than any body we could accept needs; Python's int() refuses past 4,300.
MAX_LENGTH_DIGITS = 32


def _is_length(text: str) -> bool:
    """Whether ``text`` is a Content-Length value: ASCII digits, not absurdly many."""
    return 0 < len(text) <= MAX_LENGTH_DIGITS and text.isascii() and text.isdigit()


class _ChunkScanner:
    """Walks a chunked body as it arrives (RFC 9112, section 7.1), without decoding it."""

    def __init__(self, start: int) -> None:
        self.at = start  # where the next chunk-size line (or the trailers) starts
        self.decoded = 0
        self.in_trailers = False

    def scan(self, data: bytearray, max_body: int) -> Collected:
        while not self.in_trailers:
            line_end = data.find(b"\r\n", self.at, self.at + MAX_CHUNK_LINE + 2)
            if line_end < 0:
                too_long = len(data) - self.at > MAX_CHUNK_LINE
                return Collected.READY if too_long else Collected.MORE
            size_text, extension, _ = bytes(data[self.at : line_end]).partition(b";")
            if extension:  # whitespace is allowed before an extension only
                size_text = size_text.rstrip(b" \t")
            if not size_text or size_text.strip(b"0123456789abcdefABCDEF"):
                return Collected.READY  # gunicorn answers the bad chunk size
            size = int(size_text, 16)
            if size == 0:
                self.at = line_end + 2
                self.in_trailers = True
                break
            chunk_end = line_end + 2 + size
            received = min(len(data), chunk_end) - (line_end + 2)
            if self.decoded + received > max_body + OVER_LIMIT_MARGIN:
                return Collected.READY  # the application refuses it with 413
            if len(data) < chunk_end + 2:
                return Collected.MORE
            if data[chunk_end : chunk_end + 2] != b"\r\n":
                return Collected.READY  # gunicorn answers the missing terminator
            self.decoded += size
            self.at = chunk_end + 2
        if data[self.at : self.at + 2] == b"\r\n":
            return Collected.READY
        if data.find(b"\r\n\r\n", self.at) >= 0:
            return Collected.READY
        return Collected.HEAD_TOO_LARGE if len(data) - self.at > MAX_HEAD_BYTES else Collected.MORE
