"""Where a request ends, as its bytes arrive (the worker's main loop hands it over then)."""

import pytest

from server.request_framing import MAX_HEAD_BYTES, OVER_LIMIT_MARGIN, Collected, RequestCollector

LIMIT = 1000
HEAD = b"POST / HTTP/1.1\r\nHost: x\r\n"


def _fed(*pieces: bytes) -> tuple[RequestCollector, list[Collected]]:
    collector = RequestCollector(max_body=LIMIT)
    return collector, [collector.feed(piece) for piece in pieces]


def test_a_request_without_a_body_is_ready_once_its_head_ends() -> None:
    collector, verdicts = _fed(b"GET /healthz HTTP/1.1\r\n", b"Host: x\r\n", b"\r\n")
    assert verdicts == [Collected.MORE, Collected.MORE, Collected.READY]
    assert collector.header("host") == ["x"]


def test_a_head_split_inside_its_terminator_is_found() -> None:
    _, verdicts = _fed(b"GET / HTTP/1.1\r\nHost: x\r", b"\n\r", b"\n")
    assert verdicts[-1] is Collected.READY


def test_a_body_of_known_length_is_waited_for_byte_by_byte() -> None:
    collector, verdicts = _fed(HEAD + b"Content-Length: 3\r\n\r\n", b"a", b"b", b"c")
    assert verdicts == [Collected.MORE] * 3 + [Collected.READY]
    assert bytes(collector.data).endswith(b"\r\n\r\nabc")


def test_a_body_declared_over_the_limit_is_handed_over_unread_and_without_continue() -> None:
    collector, verdicts = _fed(
        HEAD + b"Expect: 100-continue\r\nContent-Length: %d\r\n\r\n" % (LIMIT + 1)
    )
    assert verdicts == [Collected.READY]
    assert not collector.wants_continue


def test_continue_is_wanted_only_before_any_of_an_accepted_body() -> None:
    collector, _ = _fed(HEAD + b"Expect: 100-continue\r\nContent-Length: 5\r\n\r\n")
    assert collector.wants_continue
    collector.feed(b"ab")
    assert not collector.wants_continue


def test_http_1_0_never_gets_continue() -> None:
    collector, _ = _fed(b"POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n")
    assert not collector.wants_continue


def test_a_chunked_body_is_ready_after_its_last_chunk_and_trailers() -> None:
    head = HEAD + b"Transfer-Encoding: chunked\r\n\r\n"
    _, verdicts = _fed(head, b"3\r\nabc\r\n", b"2;ext=1\r\nde\r\n", b"0\r\n", b"\r\n")
    assert verdicts == [Collected.MORE] * 4 + [Collected.READY]
    _, with_trailer = _fed(head + b"1\r\na\r\n0\r\nX-T: 1\r\n", b"\r\n")
    assert with_trailer == [Collected.MORE, Collected.READY]


@pytest.mark.parametrize(
    "body",
    [b"0x5\r\nhello\r\n", b"1000 \r\n", b"zz\r\n", b"5\r\nhelloXX", b"\r\n"],
    ids=["hex prefix", "space after size", "not hex", "no CRLF after data", "empty size"],
)
def test_broken_chunk_framing_is_handed_over_at_once_for_gunicorn_to_refuse(body: bytes) -> None:
    _, verdicts = _fed(HEAD + b"Transfer-Encoding: chunked\r\n\r\n" + body)
    assert verdicts == [Collected.READY]


def test_a_chunked_body_past_the_limit_is_handed_over_with_room_to_refuse_it() -> None:
    collector = RequestCollector(max_body=LIMIT)
    collector.feed(HEAD + b"Transfer-Encoding: chunked\r\n\r\n")
    size = LIMIT + OVER_LIMIT_MARGIN + 10
    assert collector.feed(b"%x\r\n" % size) is Collected.MORE
    assert collector.feed(b"a" * (LIMIT + OVER_LIMIT_MARGIN)) is Collected.MORE
    assert collector.feed(b"a") is Collected.READY


@pytest.mark.parametrize(
    "head",
    [
        HEAD + b"Content-Length: 1\r\nContent-Length: 2\r\n\r\n",
        HEAD + b"Content-Length: -1\r\n\r\n",
        HEAD + b"Transfer-Encoding: gzip\r\n\r\n",
        HEAD + b"Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
        HEAD + b"no colon here\r\n\r\n",
    ],
    ids=["two lengths", "negative length", "unknown coding", "both framings", "bad header"],
)
def test_unclear_framing_is_handed_over_at_once(head: bytes) -> None:
    assert _fed(head)[1] == [Collected.READY]


def test_endless_headers_are_refused_past_the_bound() -> None:
    collector = RequestCollector(max_body=LIMIT)
    collector.feed(HEAD + b"X-Slow: ")
    assert collector.feed(b"a" * MAX_HEAD_BYTES) is Collected.HEAD_TOO_LARGE


def test_bytes_after_the_request_are_kept_for_the_next() -> None:
    collector, verdicts = _fed(b"GET / HTTP/1.1\r\nHost: x\r\n\r\nGET /next", b" HTTP/1.1")
    assert verdicts == [Collected.READY, Collected.READY]
    assert bytes(collector.data).endswith(b"GET /next HTTP/1.1")
