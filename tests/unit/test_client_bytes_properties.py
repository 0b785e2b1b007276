"""Our code that still reads client bytes never raises anything but its own refusal.

nginx reads and frames every request (server.transport.nginx_config); what the
application still parses itself is the multipart body (``server.form_parts``) and a few headers (the
request id, ``X-Forwarded-For``). Whatever bytes a client sends, each of these returns or
refuses with its own error: an exception of any other kind would be a 500 and a
traceback in the log for a client's mistake.
"""

import contextlib

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from server.form_parts import FormTooLarge, MalformedForm, split_form
from server.request_log import client_address, usable_request_id

BOUNDARY = b"b0undary"
LINE_BREAKS = st.sampled_from([b"\r\n", b"\n", b"\r", b""])
# Header names and values as clients send them, and as they should not: any bytes, any
# encoding, folded lines, parameters quoted or not.
HEADER_TEXT = st.one_of(
    st.binary(max_size=40),
    st.text(max_size=40).map(lambda text: text.encode("utf-8", "surrogatepass")),
    st.text(max_size=40).map(lambda text: text.encode("utf-16", "surrogatepass")),
    st.sampled_from(
        [
            b"Content-Disposition",
            b"content-disposition",
            b'form-data; name="image"; filename="a.jpg"',
            b"form-data; name=image; filename*=UTF-8''%E2%82%AC.jpg",
            b'form-data; name="\xff\xfe"',
            b"form-data; name",
            b";;;===",
            b"\r\n\t folded",
            b"9" * 4301,
        ]
    ),
)


@st.composite
def part_bodies(draw: st.DrawFn) -> bytes:
    """Multipart bodies with any number of parts, each with any headers and data, any
    line breaks, and a closing delimiter or not; sometimes cut short anywhere."""
    body = draw(st.sampled_from([b"", b"preamble\r\n"]))
    for _ in range(draw(st.integers(0, 4))):
        body += b"--" + BOUNDARY + draw(st.sampled_from([b"", b" \t", b"x"])) + draw(LINE_BREAKS)
        for _ in range(draw(st.integers(0, 3))):
            name, value = draw(HEADER_TEXT), draw(HEADER_TEXT)
            body += name + draw(st.sampled_from([b":", b": ", b""])) + value + draw(LINE_BREAKS)
        body += draw(LINE_BREAKS) + draw(st.binary(max_size=64)) + draw(LINE_BREAKS)
    if draw(st.booleans()):
        body += b"--" + BOUNDARY + b"--" + draw(LINE_BREAKS)
    if draw(st.booleans()):
        body = body[: draw(st.integers(0, len(body)))]
    return body


LIMITS = {"max_parts": st.integers(0, 8), "max_part_bytes": st.integers(0, 256)}


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(body=part_bodies(), **LIMITS)
def test_the_splitter_refuses_or_returns_for_any_shaped_body(
    body: bytes, max_parts: int, max_part_bytes: int
) -> None:
    try:
        parts = split_form(body, BOUNDARY, max_parts=max_parts, max_part_bytes=max_part_bytes)
    except (MalformedForm, FormTooLarge):
        return
    assert len(parts) <= max_parts
    for part in parts:
        assert part.data in body


@settings(max_examples=200)
@given(body=st.binary(max_size=512), boundary=st.binary(min_size=1, max_size=70), **LIMITS)
def test_the_splitter_refuses_or_returns_for_any_bytes(
    body: bytes, boundary: bytes, max_parts: int, max_part_bytes: int
) -> None:
    with contextlib.suppress(MalformedForm, FormTooLarge):
        split_form(body, boundary, max_parts=max_parts, max_part_bytes=max_part_bytes)


# Headers reach the app as latin-1 strings (WSGI), whatever their bytes were.
HEADER_VALUES = st.binary(max_size=300).map(lambda raw: raw.decode("latin-1"))


@given(peer=HEADER_VALUES, forwarded=st.lists(HEADER_VALUES, max_size=4), hops=st.integers(0, 6))
def test_the_client_address_is_always_one_of_what_was_said(
    peer: str, forwarded: list[str], hops: int
) -> None:
    address = client_address(peer, forwarded, hops)
    assert address == peer or address in ",".join(forwarded)


@given(sent=st.one_of(st.none(), HEADER_VALUES))
def test_a_request_id_is_always_short_and_plain(sent: str | None) -> None:
    rid = usable_request_id(sent)
    assert 0 < len(rid) <= 128
    assert rid.isascii()
    assert rid.isprintable()
    assert "," not in rid
    assert " " not in rid
