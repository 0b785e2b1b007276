"""What the CLI takes from a server it does not trust: checked before use, cleaned
before printing.

A hostile or broken server controls every byte of its answers. Control characters in
them (escape sequences) would reach the terminal raw: retitle it, clear it, or draw a
fake success line. So every string from the server is printed through ``printable``,
and what the CLI parses out of an answer (the image id, the delete token, the 202's
URLs) must have the shape the API promises, or the answer is refused.
"""

import re
import unicodedata
from collections.abc import Mapping
from urllib.parse import urlsplit

from cli.fitting import UploadLimits
from sharer.ids import is_image_id
from sharer.thumbnail_sizes import IMAGE_URL_NAMES

# Delete tokens are URL-safe base64 text (43 characters today).
DELETE_TOKEN = re.compile(r"[A-Za-z0-9_-]{16,128}")
# More of a server's message than this is not worth a terminal line.
MAX_PRINTED = 300
# A media type, as /openapi.json lists the accepted ones.
MEDIA_TYPE = re.compile(r"[a-z]+/[a-z0-9.+-]+")
# Unicode categories never printed: controls, format characters (bidi overrides can
# reorder a line), surrogates, private use, unassigned, and line/paragraph separators.
_UNPRINTED = frozenset(("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"))


class UntrustedAnswer(ValueError):
    """An answer without the shape the API promises; ``str(exc)`` says what is wrong."""


def printable(text: str, limit: int = MAX_PRINTED) -> str:
    """``text`` without control or format characters, cut to ``limit`` characters."""
    cleaned = "".join(c for c in text if unicodedata.category(c) not in _UNPRINTED)
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 3] + "..."


def upload_urls(document: object) -> dict[str, str]:
    """The URLs of a 202's JSON body (``IMAGE_URL_NAMES``), each an http(s) URL of
    printable text."""
    if not isinstance(document, Mapping):
        raise UntrustedAnswer("the server's 202 answer is not a JSON object")
    missing = [key for key in IMAGE_URL_NAMES if key not in document]
    if missing:
        raise UntrustedAnswer(f"the server's 202 answer lacks {', '.join(missing)}")
    urls = {key: document[key] for key in IMAGE_URL_NAMES}
    for key, url in urls.items():
        if not isinstance(url, str) or not _is_http_url(url):
            raise UntrustedAnswer(f"the server's 202 answer has no usable URL for {key}")
    return urls


def upload_limits_of(document: object) -> UploadLimits:
    """The upload limit and media types of a server's ``/openapi.json``: the ``image``
    field's ``x-max-bytes`` and ``x-media-types``."""
    try:
        image = document["components"]["schemas"]["UploadForm"]["properties"]["image"]  # type: ignore[index]
        max_bytes, media_types = image["x-max-bytes"], image["x-media-types"]
    except (KeyError, TypeError) as exc:
        raise UntrustedAnswer("the server's /openapi.json does not give its upload limit") from exc
    if type(max_bytes) is not int or max_bytes < 1:
        raise UntrustedAnswer("the server's /openapi.json gives no usable upload limit")
    if not isinstance(media_types, list) or not all(
        isinstance(t, str) and MEDIA_TYPE.fullmatch(t) for t in media_types
    ):
        raise UntrustedAnswer("the server's /openapi.json gives no usable media types")
    return UploadLimits(max_bytes, frozenset(media_types))


def image_id_of(location: str) -> str:
    """The image id at the end of a 202's ``Location`` (``/images/<id>``)."""
    image_id = location.rstrip("/").rsplit("/", 1)[-1]
    if not is_image_id(image_id):
        raise UntrustedAnswer("the server's 202 answer has no image id in its Location")
    return image_id


def delete_token_of(value: str | None) -> str | None:
    """A 202's ``Delete-Token`` header, if it has the shape of one. None when the header
    is absent: a replayed answer to an ``Idempotency-Key`` carries no token."""
    if value is None:
        return None
    if DELETE_TOKEN.fullmatch(value) is None:
        raise UntrustedAnswer("the server's 202 answer has no usable Delete-Token")
    return value


def _is_http_url(text: str) -> bool:
    if printable(text, len(text)) != text or any(c.isspace() for c in text):
        return False
    parts = urlsplit(text)
    return parts.scheme in ("http", "https") and bool(parts.netloc)
