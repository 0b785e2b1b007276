"""The parts of a ``multipart/form-data`` body (RFC 7578) held whole in memory.

The upload route needs one file field out of a body that nginx has already read whole
(``server.transport.nginx_config``) and that it reads at once, so it splits that body
here instead of streaming it through Werkzeug's parser, which decodes the body in 64 KiB
steps with a regular expression search over every byte and copies each step
(bench/results/service.md has the profile). The part data is found with ``bytes.find``
and sliced out once.

The rules are Werkzeug's (3.1), so a body is accepted or refused as before:

- line breaks may be CRLF, LF or CR alone (many clients break RFC 7578's CRLF);
- the first delimiter may follow any preamble, even without a line break before it;
  every later one must start a line. A delimiter line may end in horizontal whitespace;
- a part's headers end at the first blank line, may be folded, and must include
  ``Content-Disposition``; a ``filename`` parameter makes the part a file;
- whatever follows the closing delimiter (the epilogue) is ignored.

Bounds, refused with ``FormTooLarge``: more than ``max_parts`` parts, a preamble, a
part's headers or a non-file field's value longer than ``max_part_bytes``. Anything else
that does not parse (no delimiter, no closing delimiter, no blank line after the headers,
headers not UTF-8) raises ``MalformedForm``.
"""

import re
from dataclasses import dataclass

from werkzeug.datastructures import Headers
from werkzeug.http import parse_options_header

_LINE_BREAK = rb"(?:\r\n|\n|\r)"
# After "--boundary": the closing "--" (then perhaps a line break), or the end of the line.
_DELIMITER_END = re.compile(rb"(--)[^\S\r\n]*(?:%s)?|[^\S\r\n]*%s" % (_LINE_BREAK, _LINE_BREAK))
_BLANK_LINE = re.compile(rb"\r\n\r\n|\r\r|\n\n")
_FOLDED = re.compile(rb"%s[ \t]" % _LINE_BREAK)


class MalformedForm(ValueError):
    """The body is not a well-formed ``multipart/form-data`` body for its boundary."""


class FormTooLarge(ValueError):
    """The body breaks one of the form's bounds (parts, header or field bytes)."""


@dataclass(frozen=True)
class FormPart:
    """One part: its field name, its filename (None for a plain field) and its bytes."""

    name: str | None
    filename: str | None
    data: bytes

    @property
    def is_file(self) -> bool:
        """Whether the part is a file field (its disposition names a filename)."""
        return self.filename is not None


def split_form(
    body: bytes, boundary: bytes, *, max_parts: int, max_part_bytes: int
) -> list[FormPart]:
    """The parts of ``body``, in order; see the module docstring for what is refused."""
    delimiter = b"--" + boundary
    at, closing = _first_delimiter(body, delimiter, max_part_bytes)
    parts: list[FormPart] = []
    while not closing:
        if len(parts) == max_parts:
            raise FormTooLarge(f"more than {max_parts} parts")
        blank = _BLANK_LINE.search(body, at, at + max_part_bytes + 4)
        if blank is None:
            if len(body) - at > max_part_bytes:
                raise FormTooLarge(f"part headers longer than {max_part_bytes} bytes")
            raise MalformedForm("a part's headers do not end in a blank line")
        name, filename = _disposition(body[at : blank.start()])
        data_end, at, closing = _next_delimiter(body, delimiter, blank.end())
        if filename is None and data_end - blank.end() > max_part_bytes:
            raise FormTooLarge(f"a field longer than {max_part_bytes} bytes")
        parts.append(FormPart(name, filename, body[blank.end() : data_end]))
    return parts


def _first_delimiter(body: bytes, delimiter: bytes, max_preamble: int) -> tuple[int, bool]:
    """Where the first part starts, and whether the first delimiter is the closing one."""
    at = body.find(delimiter, 0, max_preamble + len(delimiter))
    while at >= 0:
        end = _DELIMITER_END.match(body, at + len(delimiter))
        if end is not None:
            return end.end(), end.group(1) is not None
        at = body.find(delimiter, at + 1, max_preamble + len(delimiter))
    if len(body) > max_preamble:
        raise FormTooLarge(f"no delimiter line in the first {max_preamble} bytes")
    raise MalformedForm("no delimiter line for the boundary")


def _next_delimiter(body: bytes, delimiter: bytes, start: int) -> tuple[int, int, bool]:
    """The end of the data from ``start``, where the next part starts, and whether the
    delimiter found is the closing one."""
    at = body.find(delimiter, start)
    while at >= 0:
        # The line break before the delimiter may be the one that ended the headers'
        # blank line (an empty part), as in Werkzeug.
        if body[at - 2 : at] == b"\r\n":
            line_start = at - 2
        elif body[at - 1 : at] in (b"\r", b"\n"):
            line_start = at - 1
        else:
            line_start = -1  # not at the start of a line: part of the data
        end = _DELIMITER_END.match(body, at + len(delimiter)) if line_start >= 0 else None
        if end is not None:
            return max(line_start, start), end.end(), end.group(1) is not None
        at = body.find(delimiter, at + 1)
    raise MalformedForm("the body ends before its closing delimiter")


def _disposition(block: bytes) -> tuple[str | None, str | None]:
    """The field name and filename a part's header block declares."""
    headers = Headers()
    for line in _FOLDED.sub(b" ", block).splitlines():
        try:
            text = line.strip(b" \t").decode()
        except UnicodeDecodeError as exc:
            raise MalformedForm("part headers are not UTF-8") from exc
        if text:
            name, _, value = text.partition(":")
            headers.add(name.strip(" \t"), value.strip(" \t"))
    disposition = headers.get("Content-Disposition")
    if disposition is None:
        raise MalformedForm("a part has no Content-Disposition header")
    params = parse_options_header(disposition)[1]
    return params.get("name"), params.get("filename")
