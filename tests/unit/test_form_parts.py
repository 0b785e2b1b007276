"""The multipart splitter: hostile and odd bodies get Werkzeug's verdict, part for part."""

import io

import pytest
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.formparser import MultiPartParser

from server.form_parts import FormPart, FormTooLarge, MalformedForm, split_form

MAX_PARTS = 4
MAX_PART_BYTES = 1024
IMAGE = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 8 + b"\xff\xd9"
DISPOSITION = b'Content-Disposition: form-data; name="image"; filename="a.jpg"'


def _part(data: bytes, headers: bytes = DISPOSITION, *, eol: bytes = b"\r\n") -> bytes:
    return b"--b" + eol + headers + eol + eol + data + eol


def _body(*parts: bytes, eol: bytes = b"\r\n") -> bytes:
    return b"".join(parts) + b"--b--" + eol


BODIES: dict[str, bytes] = {
    "one file": _body(_part(IMAGE)),
    "file and fields": _body(
        _part(b"hello", b'Content-Disposition: form-data; name="title"'),
        _part(IMAGE),
        _part(b"", b'Content-Disposition: form-data; name="empty"'),
    ),
    "LF line breaks": _body(_part(IMAGE, eol=b"\n"), eol=b"\n"),
    "CR line breaks": _body(_part(IMAGE, eol=b"\r"), eol=b"\r"),
    "preamble and epilogue": b"preamble\r\n" + _body(_part(IMAGE)) + b"epilogue --b\r\n",
    "preamble without a line break": b"junk--b\r\n" + DISPOSITION + b"\r\n\r\nx\r\n--b--",
    "padding after delimiters": _body(_part(IMAGE).replace(b"--b\r\n", b"--b \t\r\n")),
    "no line break after closing": _body(_part(IMAGE))[:-2],
    "delimiter bytes inside the data": _body(
        _part(b"a--b\r\n" + b"\r\n--bx" + b"\r\n--b-" + b"\n--c" + IMAGE)
    ),
    "data ending in line breaks": _body(_part(b"x\r\n\r\n")),
    "empty file": _body(_part(b"")),
    "empty file sharing its line break": b"--b\r\n" + DISPOSITION + b"\r\n\r\n--b--\r\n",
    "folded and mixed-case headers": _body(
        _part(
            b"x",
            b'content-disposition: form-data;\r\n name="image";\r\n\tfilename="a b.jpg"\r\n'
            b"Content-Type: image/jpeg",
        )
    ),
    "RFC 5987 filename": _body(
        _part(b"x", b"Content-Disposition: form-data; name=\"image\"; filename*=UTF-8''%C3%A9.jpg")
    ),
    "empty filename": _body(
        _part(b"x", b'Content-Disposition: form-data; name="image"; filename=""')
    ),
    "no name": _body(_part(b"x", b'Content-Disposition: form-data; filename="a.jpg"')),
    "empty form": b"--b--\r\n",
    "no delimiter": b"just some text",
    "no delimiter in a long body": IMAGE,
    "long preamble": b"p" * 4 * MAX_PART_BYTES + _body(_part(IMAGE)),
    "another boundary": _body(_part(IMAGE)).replace(b"--b", b"--c"),
    "never closes": _part(IMAGE),
    "cut inside the headers": b"--b\r\n" + DISPOSITION,
    "no disposition": _body(_part(IMAGE, b"Content-Type: image/jpeg")),
    "headers not UTF-8": _body(_part(b"x", DISPOSITION + b"\r\nX-Name: \xff\xfe")),
    "as many parts as allowed": _body(*[_part(b"x")] * MAX_PARTS),
    "too many parts": _body(*[_part(b"x")] * (MAX_PARTS + 1)),
    "huge part headers": _body(
        _part(b"x", DISPOSITION + b"\r\nX-Pad: " + b"a" * 4 * MAX_PART_BYTES)
    ),
    "field at its bound": _body(
        _part(b"v" * MAX_PART_BYTES, b'Content-Disposition: form-data; name="f"')
    ),
    "field past its bound": _body(
        _part(b"v" * (4 * MAX_PART_BYTES), b'Content-Disposition: form-data; name="f"')
    ),
    "large file": _body(_part(IMAGE * 8)),
}

Verdict = tuple[str, list[tuple[str | None, str | None, bytes]]]


def _ours(body: bytes) -> Verdict:
    try:
        parts = split_form(body, b"b", max_parts=MAX_PARTS, max_part_bytes=MAX_PART_BYTES)
    except MalformedForm:
        return "malformed", []
    except FormTooLarge:
        return "too large", []
    return "parsed", sorted((p.name, p.filename, p.data) for p in parts)


def _werkzeugs(body: bytes) -> Verdict:
    # Read in steps below the bound, as the app's own bounds are set against Werkzeug's
    # 64 KiB steps (``server.app``).
    parser = MultiPartParser(
        max_form_memory_size=MAX_PART_BYTES, max_form_parts=MAX_PARTS, buffer_size=128
    )
    try:
        fields, files = parser.parse(io.BytesIO(body), b"b", len(body))
    except ValueError:
        return "malformed", []
    except RequestEntityTooLarge:
        return "too large", []
    parts: list[tuple[str | None, str | None, bytes]] = [
        (name, None, value.encode()) for name, value in fields.items(multi=True)
    ]
    parts += [(name, f.filename, f.stream.read()) for name, f in files.items(multi=True)]
    return "parsed", sorted(parts)


@pytest.mark.parametrize("name", sorted(BODIES))
def test_the_splitter_agrees_with_werkzeug(name: str) -> None:
    assert _ours(BODIES[name]) == _werkzeugs(BODIES[name])


def test_the_image_comes_out_byte_for_byte_and_in_order() -> None:
    parts = split_form(BODIES["file and fields"], b"b", max_parts=4, max_part_bytes=1024)
    assert parts == [
        FormPart("title", None, b"hello"),
        FormPart("image", "a.jpg", IMAGE),
        FormPart("empty", None, b""),
    ]
    assert [p.is_file for p in parts] == [False, True, False]


@pytest.mark.parametrize(
    ("name", "refusal"),
    [
        ("too many parts", FormTooLarge),
        ("huge part headers", FormTooLarge),
        ("field past its bound", FormTooLarge),
        ("never closes", MalformedForm),
        ("no delimiter in a long body", FormTooLarge),
        ("no delimiter", MalformedForm),
        ("no disposition", MalformedForm),
        ("cut inside the headers", MalformedForm),
    ],
)
def test_refusals_say_which_kind(name: str, refusal: type[Exception]) -> None:
    with pytest.raises(refusal):
        split_form(BODIES[name], b"b", max_parts=MAX_PARTS, max_part_bytes=MAX_PART_BYTES)
